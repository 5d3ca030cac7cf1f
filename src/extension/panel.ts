/**
 * One Saliency panel: a webview around a PanelCore (which asks the engine for maps and hands the raw
 * results to the webview, which renders them). Results stay in the core so a hidden-then-shown webview
 * (which is reloaded) gets them back without recomputing. This file adds what needs VS Code's UI:
 * the progress notification, error notifications, exports and the panel's command buttons.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { oneLine } from '../shared/errors';
import { encodeNpy } from '../shared/npy';
import type { FromWebviewMessage, MethodName, ToWebviewMessage } from '../shared/protocol';
import type { Settings } from './config';
import type { EngineClient } from './engineClient';
import { PanelCore, type SlotSpec } from './panelCore';
import { panelHtml, panelResourceRoots } from './panelHtml';
import { exportPath, modelName, panelTitle } from './paths';
import type { RevivedState } from './revive';

/** Commands the panel's buttons run. */
export type PanelCommand = 'selectModel' | 'compareModels' | 'compareMethod' | 'stopCompare';

/** What a panel needs from the rest of the extension. */
export interface PanelHost {
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  extensionUri: vscode.Uri;
  settings(): Settings;
  /** Runs a command on behalf of the panel's buttons. */
  command(panel: SaliencyPanel, command: PanelCommand): void;
  disposed(panel: SaliencyPanel): void;
  /** Called after a computation, so model watchers can follow the models in use. */
  modelsChanged(): void;
}

/** The webview panel type. */
export const PANEL_VIEW_TYPE = 'saliencyLens.panel';

/** A panel showing the saliency of one image. */
export class SaliencyPanel {
  readonly imagePath: string;
  private readonly core: PanelCore;
  private disposed = false;

  constructor(private readonly host: PanelHost, readonly panel: vscode.WebviewPanel, init: RevivedState, revived: boolean) {
    this.imagePath = init.imagePath;
    this.core = new PanelCore({
      engine: host.engine,
      log: host.log,
      settings: () => host.settings(),
      post: (m) => this.post(m),
      withProgress: (task) => Promise.resolve(vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Saliency Lens', cancellable: true },
        (progress, token) => task(progress, (handler) => { token.onCancellationRequested(handler); }),
      )),
      showError: (message) => { void vscode.window.showErrorMessage(message); },
      modelsChanged: () => host.modelsChanged(),
    }, init, revived);
    panel.title = panelTitle(this.imagePath);
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'icon.png');
    panel.webview.options = { enableScripts: true, localResourceRoots: panelResourceRoots(host.extensionUri) };
    panel.webview.html = panelHtml(panel.webview, host.extensionUri, panel.title);
    panel.webview.onDidReceiveMessage((m: FromWebviewMessage) => this.onMessage(m).catch((err) => this.host.log.error(`panel message ${m?.type}: ${oneLine(err)}`)));
    panel.onDidDispose(() => {
      this.disposed = true;
      this.core.dispose();
      host.disposed(this);
    });
  }

  /** The model files this panel shows. */
  get modelPaths(): readonly string[] {
    return this.core.modelPaths;
  }

  /** True when comparing two models. */
  get comparing(): boolean {
    return this.core.comparing;
  }

  /** The first column's method and, when comparing methods, the second one's. */
  get methods(): { method: MethodName; compareMethod?: MethodName } {
    return this.core.methods;
  }

  /** Shows the panel without stealing focus from the editor. */
  reveal(): void {
    this.panel.reveal(undefined, true);
  }

  /** Replaces the first model (the workspace's choice), keeping a comparison model. */
  setPrimaryModel(modelPath: string): void {
    this.core.setPrimaryModel(modelPath);
  }

  /** Starts or stops comparing with a second model. */
  setCompareModel(modelPath: string | undefined): void {
    this.core.setCompareModel(modelPath);
  }

  /** Starts or stops comparing with a second method; the first column keeps its result. */
  async compareMethod(method: MethodName | undefined): Promise<void> {
    this.core.setCompareMethod(method);
    if (method) await this.core.compute(`compare with ${method}`, { reuse: true });
  }

  /** Sends new display settings (after the user changed the settings). */
  applySettings(settings: Settings): void {
    this.core.applySettings(settings);
  }

  /** Computes the map(s) for the current columns, method(s), parameters and target; never rejects. */
  compute(reason: string, startedAt = Date.now()): Promise<void> {
    return this.core.compute(reason, { startedAt });
  }

  private async onMessage(m: FromWebviewMessage): Promise<void> {
    if (m.type === 'export') await this.export(m.what, m.slot ?? 0, m.pngData);
    else if (m.type === 'command') this.host.command(this, m.command);
    else await this.core.onMessage(m);
  }

  private async export(what: 'overlay' | 'npy', slot: number, png: ArrayBuffer | undefined): Promise<void> {
    const result = this.core.resultOf(slot);
    if (!result) {
      void vscode.window.showWarningMessage('Saliency Lens: nothing to export yet.');
      return;
    }
    const ext = what === 'overlay' ? 'png' : 'npy';
    const spec: SlotSpec | undefined = this.core.slots[slot];
    const suggested = exportPath(this.imagePath, result.method, ext, this.comparing && spec ? modelName(spec.modelPath) : undefined);
    const cam = result.attribution.channels === 1 && result.layer !== undefined;
    const uri = await vscode.window.showSaveDialog({
      title: what === 'overlay' ? 'Save the overlay as PNG'
        : cam ? `Save the raw class activation map at layer ${result.layer} as .npy ([h, w, 1] float32)` : 'Save the raw attribution map as .npy ([H, W, C] float32)',
      defaultUri: vscode.Uri.file(suggested),
      filters: what === 'overlay' ? { 'PNG image': ['png'] } : { 'NumPy array': ['npy'] },
      saveLabel: 'Save',
    });
    if (!uri) return;
    let bytes: Uint8Array;
    if (what === 'overlay') {
      if (!png) return;
      bytes = new Uint8Array(png);
    } else {
      const a = result.attribution;
      bytes = encodeNpy(new Float32Array(a.data), [a.height, a.width, a.channels]);
    }
    try {
      await vscode.workspace.fs.writeFile(uri, bytes);
      this.host.log.info(`saved ${uri.fsPath} (${bytes.length} bytes)`);
      void vscode.window.showInformationMessage(`Saliency Lens: saved ${path.basename(uri.fsPath)}`);
    } catch (err) {
      void vscode.window.showErrorMessage(`Saliency Lens: could not save ${path.basename(uri.fsPath)}: ${oneLine(err)}`);
    }
  }

  private post(message: ToWebviewMessage): void {
    if (this.disposed) return;
    // A hidden webview drops messages; it asks for everything again ('ready') when shown.
    void this.panel.webview.postMessage(message).then(undefined, () => undefined);
  }
}
