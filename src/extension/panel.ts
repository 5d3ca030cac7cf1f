/**
 * One Saliency panel: an image, one model (or two when comparing), the method and target; it asks the
 * engine for maps and hands the raw results to its webview, which renders them. Results stay here so a
 * hidden-then-shown webview (which is reloaded) gets them back without recomputing.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { oneLine } from '../shared/errors';
import { encodeNpy } from '../shared/npy';
import type { ExplainResult, FromWebviewMessage, MethodName, PanelSlot, ToWebviewMessage } from '../shared/protocol';
import { METHODS } from '../shared/protocol';
import { mapCompareTarget } from './compare';
import { parseTarget, type Settings } from './config';
import { EngineError, type EngineClient } from './engineClient';
import { panelHtml, panelResourceRoots } from './panelHtml';
import { exportPath, modelName, panelTitle } from './paths';
import type { RevivedState } from './revive';

/** What a panel needs from the rest of the extension. */
export interface PanelHost {
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  extensionUri: vscode.Uri;
  settings(): Settings;
  /** Runs a command on behalf of the panel's buttons. */
  command(panel: SaliencyPanel, command: 'selectModel' | 'compareModels' | 'stopCompare'): void;
  disposed(panel: SaliencyPanel): void;
  /** Called after a computation, so model watchers can follow the models in use. */
  modelsChanged(): void;
}

interface SlotResult {
  requestId: number;
  result: ExplainResult;
  note?: string;
  reason?: string;
}

/** The webview panel type. */
export const PANEL_VIEW_TYPE = 'saliencyLens.panel';

/** A panel showing the saliency of one image. */
export class SaliencyPanel {
  readonly imagePath: string;
  private models: string[];
  private method: MethodName;
  private target: number | string | undefined;
  private results: (SlotResult | undefined)[] = [];
  private errors: ({ requestId: number; message: string; cancelled: boolean } | undefined)[] = [];
  private busy: { requestId: number; message: string } | undefined;
  private seq = 0;
  private abort: AbortController | undefined;
  private readonly commandStart = new Map<number, number>();
  private settingsSent = false;
  private disposed = false;

  constructor(private readonly host: PanelHost, readonly panel: vscode.WebviewPanel, init: RevivedState, revived: boolean) {
    this.imagePath = init.imagePath;
    this.models = init.models;
    this.method = init.method && METHODS.includes(init.method) ? init.method : host.settings().method;
    // A new panel starts from the target setting; a revived one keeps what the user had chosen.
    this.target = revived ? init.target : init.target ?? host.settings().target;
    // A revived webview restores its own display settings; only a new one gets them from the settings.
    this.settingsSent = revived;
    panel.title = panelTitle(this.imagePath);
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'icon.png');
    panel.webview.options = { enableScripts: true, localResourceRoots: panelResourceRoots(host.extensionUri) };
    panel.webview.html = panelHtml(panel.webview, host.extensionUri, panel.title);
    panel.webview.onDidReceiveMessage((m: FromWebviewMessage) => this.onMessage(m).catch((err) => this.host.log.error(`panel message ${m?.type}: ${oneLine(err)}`)));
    panel.onDidDispose(() => {
      this.disposed = true;
      this.abort?.abort();
      host.disposed(this);
    });
  }

  /** The model files this panel shows. */
  get modelPaths(): readonly string[] {
    return this.models;
  }

  /** True when comparing two models. */
  get comparing(): boolean {
    return this.models.length > 1;
  }

  /** Shows the panel without stealing focus from the editor. */
  reveal(): void {
    this.panel.reveal(undefined, true);
  }

  /** Replaces the first model (the workspace's choice), keeping a comparison model. */
  setPrimaryModel(modelPath: string): void {
    if (this.models[0] === modelPath) return;
    this.models = [modelPath, ...this.models.slice(1)];
    this.results = [];
    this.errors = [];
    this.postContext();
  }

  /** Starts or stops comparing with a second model. */
  setCompareModel(modelPath: string | undefined): void {
    this.models = modelPath ? [this.models[0], modelPath] : [this.models[0]];
    // The first model's results stay valid; a second slot starts empty.
    this.results = this.results.slice(0, 1);
    this.errors = this.errors.slice(0, 1);
    this.postContext();
  }

  /** Sends new display settings (after the user changed the settings). */
  applySettings(settings: Settings): void {
    this.settingsSent = true;
    this.post({ type: 'settings', display: settings.display, method: this.method });
  }

  /** Computes the map(s) for the current models, method and target; never rejects. */
  async compute(reason: string, startedAt = Date.now()): Promise<void> {
    if (this.disposed) return;
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const requestId = ++this.seq;
    this.commandStart.set(requestId, startedAt);
    const imageName = path.basename(this.imagePath);
    const settings = this.host.settings();
    this.busy = { requestId, message: `Computing ${this.method} for ${imageName}…` };
    this.errors = this.models.map(() => undefined);
    this.post({ type: 'busy', ...this.busy });
    this.host.log.info(`explain ${imageName} with ${this.models.map(modelName).join(' and ')}: ${this.method}, target ${this.target ?? 'top-1'} (${reason})`);
    const failures: string[] = [];
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Saliency Lens', cancellable: true }, async (progress, token) => {
        token.onCancellationRequested(() => ac.abort());
        const share = 100 / this.models.length;
        let primary: ExplainResult | undefined;
        for (let slot = 0; slot < this.models.length && !ac.signal.aborted; slot++) {
          const modelPath = this.models[slot];
          let target = this.target;
          let note: string | undefined;
          if (slot > 0) {
            ({ target, note } = await this.compareTarget(primary, ac.signal));
          }
          progress.report({ message: `${this.method} · ${modelName(modelPath)} · ${imageName}` });
          let done = 0;
          try {
            const result = await this.host.engine.request('explain', {
              imagePath: this.imagePath, modelPath, method: this.method, target, topK: 5,
              preprocess: settings.preprocess, resize: settings.resize,
            }, {
              signal: ac.signal,
              onProgress: (fraction, message) => {
                progress.report({ increment: Math.max(0, fraction - done) * share, message });
                done = Math.max(done, fraction);
              },
            });
            if (slot === 0) primary = result;
            if (this.abort !== ac) return;
            this.results[slot] = { requestId, result, note, reason };
            this.post({ type: 'result', requestId, slot, result, note, reason });
            const t = result.timingMs;
            this.host.log.info(`${modelName(modelPath)}: top-1 ${result.predictions[0]?.label ?? '?'}, target ${result.target.label} — load ${t.load.toFixed(0)} ms, inference ${t.inference.toFixed(0)} ms, attribution ${t.attribution.toFixed(0)} ms on ${result.backend}`);
          } catch (err) {
            const e = err instanceof EngineError ? err : new EngineError('internal', oneLine(err));
            if (this.abort !== ac) return;
            // The engine names the file by its full path; the panel and the notification already say which image.
            const cancelled = e.kind === 'cancelled';
            const message = cancelled ? 'Cancelled.' : e.message.split(this.imagePath).join(imageName);
            this.errors[slot] = { requestId, message, cancelled };
            if (!cancelled) this.results[slot] = undefined;
            this.post({ type: 'error', requestId, slot, message, cancelled });
            if (cancelled) return;
            failures.push(this.comparing ? `${modelName(modelPath)}: ${message}` : message);
          }
        }
      });
    } catch (err) {
      failures.push(oneLine(err));
    } finally {
      if (this.abort === ac) {
        this.busy = undefined;
        this.abort = undefined;
        this.post({ type: 'busy', requestId, message: '' });
      }
      this.host.modelsChanged();
    }
    // One line per computation, even if both models of a comparison failed.
    if (failures.length) void vscode.window.showErrorMessage(`Saliency Lens: ${failures[0]}`);
  }

  private async compareTarget(primary: ExplainResult | undefined, signal: AbortSignal): Promise<{ target: number | string | undefined; note?: string }> {
    if (!primary) return { target: typeof this.target === 'string' ? this.target : undefined };
    const labels = async (modelPath: string): Promise<string[] | undefined> => {
      try {
        return await this.host.engine.request('labels', { modelPath }, { signal });
      } catch {
        return undefined;
      }
    };
    return mapCompareTarget(primary.target, await labels(this.models[0]), await labels(this.models[1]));
  }

  private async onMessage(m: FromWebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.postAll();
        return;
      case 'recompute':
        if (m.method && METHODS.includes(m.method)) this.method = m.method;
        // An empty string means "back to the top-1 prediction".
        if (m.target !== undefined) this.target = parseTarget(m.target);
        await this.compute(m.method ? 'method changed in the panel' : 'target changed in the panel');
        return;
      case 'displayChanged': {
        const d = m.display;
        this.host.log.info(`display changed in the panel: ${d.colormap}, alpha ${d.alpha}, clip ${d.clipPercentile}%, ${d.reduce} (re-rendered in the webview, no engine request)`);
        return;
      }
      case 'rendered': {
        const t0 = this.commandStart.get(m.requestId);
        if (t0 === undefined) return;
        this.commandStart.delete(m.requestId);
        this.host.log.info(`overlay shown ${Date.now() - t0} ms after the command (${path.basename(this.imagePath)}, slot ${m.slot})`);
        return;
      }
      case 'requestLabels': {
        try {
          const labels = await this.host.engine.request('labels', { modelPath: this.models[0] });
          this.post({ type: 'labels', labels });
        } catch (err) {
          this.host.log.warn(`labels of ${this.models[0]}: ${oneLine(err)}`);
          this.post({ type: 'labels', labels: [] });
        }
        return;
      }
      case 'export':
        await this.export(m.what, m.slot ?? 0, m.pngData);
        return;
      case 'command':
        this.host.command(this, m.command);
        return;
    }
  }

  private async export(what: 'overlay' | 'npy', slot: number, png: ArrayBuffer | undefined): Promise<void> {
    const entry = this.results[slot];
    if (!entry) {
      void vscode.window.showWarningMessage('Saliency Lens: nothing to export yet.');
      return;
    }
    const { result } = entry;
    const ext = what === 'overlay' ? 'png' : 'npy';
    const suggested = exportPath(this.imagePath, result.method, ext, this.comparing ? modelName(this.models[slot]) : undefined);
    const uri = await vscode.window.showSaveDialog({
      title: what === 'overlay' ? 'Save the overlay as PNG' : 'Save the raw attribution map as .npy ([H, W, C] float32)',
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

  private postContext(): void {
    const slots: PanelSlot[] = this.models.map((p) => ({ modelPath: p, modelName: modelName(p) }));
    this.post({ type: 'context', imagePath: this.imagePath, imageName: path.basename(this.imagePath), slots, methods: METHODS });
  }

  /** Everything a freshly (re)loaded webview needs. */
  private postAll(): void {
    this.postContext();
    if (!this.settingsSent) {
      this.settingsSent = true;
      this.post({ type: 'settings', display: this.host.settings().display, method: this.method });
    }
    this.results.forEach((r, slot) => { if (r) this.post({ type: 'result', slot, ...r }); });
    this.errors.forEach((e, slot) => { if (e) this.post({ type: 'error', slot, ...e }); });
    if (this.busy) this.post({ type: 'busy', ...this.busy });
  }

  private post(message: ToWebviewMessage): void {
    if (this.disposed) return;
    // A hidden webview drops messages; it asks for everything again ('ready') when shown.
    void this.panel.webview.postMessage(message).then(undefined, () => undefined);
  }
}
