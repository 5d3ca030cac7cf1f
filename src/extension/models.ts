/** Choosing the model: workspace search, the QuickPick, the per-workspace memory and the status bar item. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { sniffModelJson } from '../shared/modelSniff';
import { modelName, resolveSettingPath } from './paths';

const STATE_KEY = 'saliencyLens.model';
const EXCLUDE = '**/node_modules/**';
const MAX_RESULTS = 500;

/** A model file found in the workspace. */
export interface ModelCandidate {
  path: string;
  kind: 'tfjs-layers' | 'tfjs-graph' | 'onnx';
}

/** Finds TF.js model.json files (sniffed, so other model.json files are skipped) and .onnx files. */
export async function findWorkspaceModels(token?: vscode.CancellationToken): Promise<ModelCandidate[]> {
  const [jsons, onnx] = await Promise.all([
    vscode.workspace.findFiles('**/model.json', EXCLUDE, MAX_RESULTS, token),
    vscode.workspace.findFiles('**/*.onnx', EXCLUDE, MAX_RESULTS, token),
  ]);
  const sniffed = await Promise.all(jsons.map(async (uri): Promise<ModelCandidate | undefined> => {
    try {
      const kind = sniffModelJson(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));
      return kind ? { path: uri.fsPath, kind } : undefined;
    } catch {
      return undefined;
    }
  }));
  const found = [...sniffed.filter((c): c is ModelCandidate => c !== undefined), ...onnx.map((u) => ({ path: u.fsPath, kind: 'onnx' as const }))];
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

const KIND_TEXT: Record<ModelCandidate['kind'], string> = {
  'tfjs-layers': 'TF.js layers model',
  'tfjs-graph': 'TF.js graph model',
  onnx: 'ONNX model',
};

interface ModelItem extends vscode.QuickPickItem {
  modelPath?: string;
  browse?: boolean;
}

/** Shows the model QuickPick; resolves with the chosen path or undefined when dismissed. */
export async function pickModel(opts: { title: string; current?: string; exclude?: string }): Promise<string | undefined> {
  const qp = vscode.window.createQuickPick<ModelItem>();
  qp.title = opts.title;
  qp.placeholder = 'Searching the workspace for models (model.json, .onnx)…';
  qp.busy = true;
  qp.matchOnDescription = true;
  const browse: ModelItem = { label: '$(folder-opened) Browse…', detail: 'Choose a model.json or .onnx file anywhere', browse: true, alwaysShow: true };
  qp.items = [browse];
  qp.show();
  const cts = new vscode.CancellationTokenSource();
  void findWorkspaceModels(cts.token).then((models) => {
    const items: ModelItem[] = models.filter((m) => m.path !== opts.exclude).map((m) => ({
      label: `$(symbol-class) ${modelName(m.path)}`,
      description: vscode.workspace.asRelativePath(m.path),
      detail: m.path === opts.current ? `${KIND_TEXT[m.kind]} · current` : KIND_TEXT[m.kind],
      modelPath: m.path,
    }));
    qp.items = [...items, { label: '', kind: vscode.QuickPickItemKind.Separator }, browse];
    qp.placeholder = items.length ? 'Pick the model to explain with' : 'No models found in the workspace: browse for one';
    const current = items.find((i) => i.modelPath === opts.current);
    if (current) qp.activeItems = [current];
    qp.busy = false;
  }, () => { qp.busy = false; });

  const chosen = await new Promise<ModelItem | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]));
    qp.onDidHide(() => resolve(undefined));
  });
  cts.cancel();
  qp.dispose();
  if (!chosen) return undefined;
  if (!chosen.browse) return chosen.modelPath;
  const picked = await vscode.window.showOpenDialog({
    title: opts.title,
    canSelectMany: false,
    openLabel: 'Use Model',
    filters: { 'Models (model.json, .onnx)': ['json', 'onnx'] },
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0]?.fsPath;
}

/** The workspace's chosen model, remembered in workspaceState and shown in the status bar. */
export class ModelStore implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly emitter = new vscode.EventEmitter<string | undefined>();
  /** Fires with the new model path when the choice changes. */
  readonly onDidChange = this.emitter.event;

  constructor(private readonly state: vscode.Memento, private readonly settingModel: () => string) {
    this.item = vscode.window.createStatusBarItem('saliencyLens.model', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Saliency Lens Model';
    this.item.command = 'saliencyLens.selectModel';
    this.refresh();
    this.item.show();
  }

  /** The remembered model, else the `saliencyLens.model` setting, else undefined. */
  get current(): string | undefined {
    const remembered = this.state.get<string>(STATE_KEY);
    if (remembered) return remembered;
    return resolveSettingPath(this.settingModel(), vscode.workspace.workspaceFolders?.[0]?.uri.fsPath);
  }

  /** Remembers a model for this workspace. */
  async set(modelPath: string): Promise<void> {
    const changed = modelPath !== this.current;
    await this.state.update(STATE_KEY, modelPath);
    this.refresh();
    if (changed) this.emitter.fire(modelPath);
  }

  /** Updates the status bar text (also after a settings change). */
  refresh(): void {
    const current = this.current;
    this.item.text = current ? `$(eye) ${modelName(current)}` : '$(eye) No model';
    this.item.tooltip = current
      ? `Saliency Lens model: ${current}\nClick to choose another`
      : 'Saliency Lens: no model chosen for this workspace. Click to choose one';
  }

  /** The model to use, asking the user when none is known or the known one is gone. */
  async ensure(): Promise<string | undefined> {
    const current = this.current;
    if (current && await exists(current)) return current;
    const picked = await pickModel({ title: current ? `Model not found (${path.basename(current)}): pick a model` : 'Saliency Lens: pick a model' });
    if (picked) await this.set(picked);
    return picked;
  }

  dispose(): void {
    this.item.dispose();
    this.emitter.dispose();
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(vscode.Uri.file(p));
    return true;
  } catch {
    return false;
  }
}
