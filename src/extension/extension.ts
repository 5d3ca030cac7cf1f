/**
 * Saliency Lens extension entry: commands, the model status bar item, the engine client and the panels.
 * The host never loads TensorFlow.js or sharp (the engine process does) and never lets an error escape.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { oneLine } from '../shared/errors';
import { readSettings, SECTION, type Settings } from './config';
import { EngineClient } from './engineClient';
import { dreamJob, filtersJob } from './featureCommands';
import type { FeatureJob } from './featureCore';
import { FEATURE_VIEW_TYPE, openFeaturePanel, reviveFeaturePanel, type FeaturePanel } from './featurePanel';
import { activeImageUri, imageFromArg, pickImage } from './images';
import { ModelStore, pickModel } from './models';
import { PANEL_VIEW_TYPE, type SaliencyPanel } from './panel';
import { PanelManager } from './panels';
import { isImagePath, modelName } from './paths';

let engine: EngineClient | undefined;

/** Called by VS Code on the first command, panel restore or workspace with a model. */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Saliency Lens', { log: true });
  const settings = (): Settings => readSettings((key) => vscode.workspace.getConfiguration(SECTION).get(key));
  engine = new EngineClient({
    enginePath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'engine.js').fsPath,
    backend: () => settings().backend,
    threads: () => settings().threads,
    workers: () => settings().workers,
    kernelThreads: () => settings().kernelThreads,
    requestTimeoutMs: () => settings().requestTimeoutMs,
    log: (line) => log.info(line),
  });
  const client = engine;
  const models = new ModelStore(context.workspaceState, () => settings().model);
  const panels = new PanelManager({ engine: client, log, extensionUri: context.extensionUri, settings }, (panel) => compareFor(panel));
  context.subscriptions.push(log, models, panels, { dispose: () => client.dispose() });

  /** Wraps a command so that any failure becomes one logged line and one notification. */
  const register = (id: string, run: (...args: unknown[]) => Promise<void>): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        await run(...args);
      } catch (err) {
        log.error(`${id}: ${err instanceof Error && err.stack ? err.stack : String(err)}`);
        void vscode.window.showErrorMessage(`Saliency Lens: ${oneLine(err)}`);
      }
    }));
  };

  /** The image a command is about: its argument, the active image preview, the active panel, or a pick. */
  const resolveImage = async (arg: unknown, preferPanel: boolean): Promise<string | undefined> => {
    const fromArg = imageFromArg(arg);
    if (fromArg) return fromArg.fsPath;
    if (preferPanel && panels.active) return panels.active.imagePath;
    const active = activeImageUri();
    if (active) return active.fsPath;
    if (panels.active?.panel.active) return panels.active.imagePath;
    return (await pickImage())?.fsPath;
  };

  const compareFor = async (panel: SaliencyPanel | undefined, imagePath?: string): Promise<void> => {
    const image = panel?.imagePath ?? imagePath;
    if (!image) return;
    const primary = panel?.modelPaths[0] ?? await models.ensure();
    if (!primary) return;
    const second = await pickModel({ title: `Compare ${modelName(primary)} with…`, exclude: primary, current: panel?.modelPaths[1] });
    if (!second) return;
    await panels.explain(image, [primary, second], Date.now());
  };

  /** The image of a command (argument, active editor or picker), warning when it is not an image file. */
  const resolveImageArg = async (arg: unknown): Promise<string | undefined> => {
    const image = await resolveImage(arg, false);
    if (!image) return undefined;
    if (!isImagePath(image)) {
      void vscode.window.showWarningMessage(`Saliency Lens: ${path.basename(image)} does not look like an image (png, jpg, webp, gif, bmp, tiff).`);
      return undefined;
    }
    return image;
  };

  register('saliencyLens.explainImage', async (arg) => {
    const image = await resolveImageArg(arg);
    if (!image) return;
    const model = await models.ensure();
    if (!model) return;
    // Timed from here: the pickers wait for the user, not for us.
    await panels.explain(image, [model], Date.now());
  });

  register('saliencyLens.selectModel', async () => {
    const picked = await pickModel({ title: 'Saliency Lens: pick the model to explain with', current: models.current });
    if (picked) await models.set(picked);
  });

  register('saliencyLens.showPanel', async () => {
    const active = panels.active;
    if (active) {
      active.reveal();
      return;
    }
    await vscode.commands.executeCommand('saliencyLens.explainImage');
  });

  register('saliencyLens.compareModels', async (arg) => {
    const fromArg = imageFromArg(arg);
    const panel = fromArg ? undefined : panels.active;
    if (panel) {
      await compareFor(panel);
      return;
    }
    const image = await resolveImage(arg, false);
    if (image) await compareFor(undefined, image);
  });

  const featureHost = { engine: client, log, extensionUri: context.extensionUri };
  let lastFeature: FeaturePanel | undefined;
  /** Opens a filter grid or dream panel with the model's preprocessing settings. */
  const openFeature = async (job: FeatureJob | undefined): Promise<void> => {
    if (!job) return;
    const { preprocess, resize } = settings();
    job.params.preprocess ??= preprocess;
    job.params.resize ??= resize;
    // Filter grids and dreams gather in one column beside the code.
    lastFeature = await openFeaturePanel(featureHost, job, lastFeature);
    const panel = lastFeature;
    context.subscriptions.push({ dispose: () => panel.panel.dispose() });
  };

  register('saliencyLens.visualizeFilters', async () => {
    const model = await models.ensure();
    if (!model) return;
    await openFeature(await filtersJob(client, model));
  });

  register('saliencyLens.deepDream', async (arg) => {
    const image = await resolveImageArg(arg);
    if (!image) return;
    const model = await models.ensure();
    if (!model) return;
    await openFeature(await dreamJob(client, model, image));
  });

  context.subscriptions.push(
    models.onDidChange((modelPath) => {
      if (!modelPath) return;
      log.info(`model for this workspace: ${modelPath}`);
      void panels.modelSelected(modelPath);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      const s = settings();
      models.refresh();
      const display = ['colormap', 'alpha', 'clipPercentile', 'reduce'].some((k) => e.affectsConfiguration(`${SECTION}.${k}`));
      if (display) panels.settingsChanged(s);
      if (e.affectsConfiguration(`${SECTION}.backend`)) {
        log.info(`backend setting is now ${s.backend || 'auto'}: restarting the engine`);
        client.restart('backend setting changed');
      } else if (e.affectsConfiguration(`${SECTION}.wasmThreads`)) {
        // The client compares its settings at each request: a computation in progress is not cut short.
        log.info(`wasm threads setting is now ${s.threads ?? 'auto'}: the engine restarts at its next request`);
      } else if (e.affectsConfiguration(`${SECTION}.gradientWorkers`)) {
        log.info(`gradient workers setting is now ${s.workers ?? 'auto'}: the engine restarts at its next request`);
      } else if (e.affectsConfiguration(`${SECTION}.kernelThreads`)) {
        log.info(`kernel threads setting is now ${s.kernelThreads ?? 'auto'}: the engine restarts at its next request`);
      }
    }),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: async (webviewPanel, state) => {
        try {
          await panels.revive(webviewPanel, state);
        } catch (err) {
          log.error(`restoring a panel: ${oneLine(err)}`);
        }
      },
    }),
    vscode.window.registerWebviewPanelSerializer(FEATURE_VIEW_TYPE, {
      deserializeWebviewPanel: async (webviewPanel, state) => {
        try {
          const panel = reviveFeaturePanel(featureHost, webviewPanel, state);
          if (!panel) return;
          if (!lastFeature || lastFeature.isDisposed) lastFeature = panel;
          context.subscriptions.push({ dispose: () => panel.panel.dispose() });
        } catch (err) {
          log.error(`restoring a filter or dream panel: ${oneLine(err)}`);
        }
      },
    }),
  );
  log.info(`Saliency Lens ${String(context.extension.packageJSON.version ?? '')} activated (VS Code ${vscode.version}, Node ${process.versions.node})`);
}

/** Stops the engine process. */
export function deactivate(): void {
  engine?.dispose();
  engine = undefined;
}
