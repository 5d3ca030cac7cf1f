/** "Visualize Filters…" and "Deep Dream…": the layer and filter pickers and the jobs they start. */
import * as vscode from 'vscode';
import type { FeatureVisOptions, LayerInfo } from '../shared/protocol';
import { SECTION } from './config';
import type { EngineClient } from './engineClient';
import type { FeatureJob } from './featureCore';
import { channelCount, featureOptions, firstFilters, parseCount, parseFilterList, randomFilters, shapeText } from './filterSelect';
import { modelName } from './paths';

interface LayerItem extends vscode.QuickPickItem { layer: LayerInfo }

/** Asks the engine for the model's layers and lets the user pick one with a spatial output. */
export async function pickLayer(engine: EngineClient, modelPath: string, title: string): Promise<LayerInfo | undefined> {
  const qp = vscode.window.createQuickPick<LayerItem>();
  qp.title = title;
  qp.placeholder = `Reading the layers of ${modelName(modelPath)}…`;
  qp.busy = true;
  qp.matchOnDescription = true;
  // A multi-step input: a webview taking focus back must not close it (Escape still does).
  qp.ignoreFocusOut = true;
  qp.show();
  const chosen = new Promise<LayerItem | undefined>((resolve) => {
    qp.onDidAccept(() => { if (qp.selectedItems[0]) resolve(qp.selectedItems[0]); });
    qp.onDidHide(() => resolve(undefined));
  });
  engine.request('layers', { modelPath }).then((layers) => {
    const spatial = layers.filter((l) => l.spatial);
    qp.items = spatial.map((layer) => {
      const c = channelCount(layer);
      return { label: layer.name, description: `${layer.op} · ${shapeText(layer.outputShape)}`, detail: c ? `${c} filters` : undefined, layer };
    });
    qp.placeholder = spatial.length ? 'Pick a layer (output shape: height×width×channels)' : 'This model has no layer with a spatial output';
    qp.busy = false;
  }, (err: unknown) => {
    qp.placeholder = `Could not read the layers: ${err instanceof Error ? err.message : String(err)}`;
    qp.busy = false;
  });
  const item = await chosen;
  qp.dispose();
  return item?.layer;
}

interface ChoiceItem extends vscode.QuickPickItem { choice: 'first' | 'random' | 'list' }

/** Asks which filters to visualise: first N, random N (seeded) or a list; undefined when dismissed. */
export async function pickFilters(layer: LayerInfo, seed: number): Promise<number[] | undefined> {
  const channels = channelCount(layer);
  const of = channels ? ` of ${channels}` : '';
  const items: ChoiceItem[] = [
    { label: 'First N', description: `filters 0, 1, 2, …${of}`, choice: 'first' },
    { label: 'Random N', description: `N distinct filters${of}, chosen with seed ${seed}`, choice: 'random' },
    { label: 'List…', description: 'indices and ranges, such as 0,1,2 or 4-7', choice: 'list' },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: `Filters of ${layer.name}`, placeHolder: 'Which filters?', ignoreFocusOut: true });
  if (!picked) return undefined;
  const defaultCount = String(Math.min(16, channels ?? 16));
  if (picked.choice === 'list') {
    const text = await vscode.window.showInputBox({
      title: `Filters of ${layer.name}`, ignoreFocusOut: true, prompt: `Filter indices${channels ? ` (0–${channels - 1})` : ''}: such as 0,1,2 or 4-7`, value: '0-3',
      validateInput: (v) => { const r = parseFilterList(v, channels); return 'error' in r ? r.error : undefined; },
    });
    if (text === undefined) return undefined;
    const r = parseFilterList(text, channels);
    return 'filters' in r ? r.filters : undefined;
  }
  const text = await vscode.window.showInputBox({
    title: `${picked.label} filters of ${layer.name}`, ignoreFocusOut: true, prompt: `How many filters${of}?`, value: defaultCount,
    validateInput: (v) => { const r = parseCount(v, channels); return 'error' in r ? r.error : undefined; },
  });
  if (text === undefined) return undefined;
  const r = parseCount(text, channels);
  if ('error' in r) return undefined;
  if (picked.choice === 'first' || channels === undefined) return firstFilters(r.count, channels);
  return randomFilters(r.count, channels, seed);
}

/** The job of "Visualize Filters…" for a model, after the pickers; undefined when dismissed. */
export async function filtersJob(engine: EngineClient, modelPath: string): Promise<FeatureJob | undefined> {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const layer = await pickLayer(engine, modelPath, `Visualize filters of ${modelName(modelPath)}: pick a layer`);
  if (!layer) return undefined;
  const seed = typeof cfg.get('seed') === 'number' ? (cfg.get('seed') as number) : 0;
  const filters = await pickFilters(layer, seed);
  if (!filters?.length) return undefined;
  return { kind: 'filters', params: { modelPath, layer: layer.name, filters, options: { ...featureOptions((k) => cfg.get(k)), seed } } };
}

/** The job of "Deep Dream…" for an image and a model, after the layer picker; undefined when dismissed. */
export async function dreamJob(engine: EngineClient, modelPath: string, imagePath: string): Promise<FeatureJob | undefined> {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const layer = await pickLayer(engine, modelPath, `Deep Dream with ${modelName(modelPath)}: pick a layer`);
  if (!layer) return undefined;
  const { steps } = featureOptions((k) => cfg.get(k));
  // filterSteps counts optimisation steps of a filter; a dream's steps are per octave, so it is used as a cap.
  const options: FeatureVisOptions = steps !== undefined ? { steps: Math.min(steps, 20) } : {};
  return { kind: 'dream', params: { modelPath, imagePath, layer: layer.name, options } };
}
