/**
 * What a Saliency panel computes and tells its webview, without `vscode` (unit-tested against the fake
 * engine): the columns (one model, two models, or one model with two methods), the method parameters,
 * the engine requests with progress and cancel, and the results kept for a reloaded webview.
 */
import * as path from 'node:path';
import { oneLine } from '../shared/errors';
import type {
  ExplainResult, FromWebviewMessage, MethodName, MethodOptions, PanelSlot, ToWebviewMessage,
} from '../shared/protocol';
import { METHODS } from '../shared/protocol';
import { mapCompareTarget } from './compare';
import { parseTarget, type Settings } from './config';
import { EngineError, type EngineClient } from './engineClient';
import { methodLabel, requestOptions, sanitizeOptions } from './methodParams';
import { OverlayTimings } from './panelTiming';
import { modelName } from './paths';
import type { RevivedState } from './revive';

/** Reports progress of the running computation (the notification's `progress`). */
export interface ProgressSink {
  report(value: { message?: string; increment?: number }): void;
}

/** What the core needs from the extension (vscode in the product, plain functions in tests). */
export interface PanelCoreHost {
  engine: Pick<EngineClient, 'request'>;
  log: { info(line: string): void; warn(line: string): void; error(line: string): void };
  settings(): Settings;
  post(message: ToWebviewMessage): void;
  /** Runs a task under a cancellable progress notification; `onCancel` registers the Cancel button's handler. */
  withProgress(task: (progress: ProgressSink, onCancel: (handler: () => void) => void) => Promise<void>): Promise<void>;
  /** One-line error notification. */
  showError(message: string): void;
  /** Called after a computation, so model watchers can follow the models in use. */
  modelsChanged(): void;
}

/** One column: a model and the method it is explained with. */
export interface SlotSpec {
  modelPath: string;
  method: MethodName;
}

/** A result with the request it answers (compared to decide whether a column must be recomputed). */
export interface SlotResult {
  requestId: number;
  result: ExplainResult;
  note?: string;
  reason?: string;
  key: string;
}

/** How often (ms) progress is forwarded to the webview. */
const PROGRESS_EVERY_MS = 100;

/** The columns of a panel: a method comparison uses the first model twice. */
export function slotSpecs(models: readonly string[], method: MethodName, compareMethod: MethodName | undefined): SlotSpec[] {
  if (compareMethod) return [{ modelPath: models[0], method }, { modelPath: models[0], method: compareMethod }];
  return models.map((modelPath) => ({ modelPath, method }));
}

/**
 * Identifies what a column's request depends on. A second column depends on the first one's target
 * (`from`), not on the target it is mapped to. `metrics` is left out: a result with faithfulness metrics
 * also serves a request without them.
 */
export function requestKey(spec: SlotSpec, target: number | string | undefined, from: number | undefined, options: MethodOptions, settings: Pick<Settings, 'preprocess' | 'resize'>): string {
  const { metrics: _metrics, ...rest } = requestOptions(spec.method, options);
  return JSON.stringify([spec.modelPath, spec.method, target ?? null, from ?? null, rest, settings.preprocess ?? null, settings.resize ?? null]);
}

/** True when a result carries the faithfulness curves. */
export function hasFaithfulness(result: ExplainResult): boolean {
  return !!result.metrics?.deletion;
}

/** A panel's state and computations. */
export class PanelCore {
  readonly imagePath: string;
  private models: string[];
  private method: MethodName;
  private compareMethod: MethodName | undefined;
  private target: number | string | undefined;
  private options: MethodOptions;
  private results: (SlotResult | undefined)[] = [];
  private errors: ({ requestId: number; message: string; cancelled: boolean } | undefined)[] = [];
  private busy: { requestId: number; message: string; fraction?: number } | undefined;
  private seq = 0;
  private abort: AbortController | undefined;
  private readonly overlays = new OverlayTimings();
  private settingsSent: boolean;
  private disposed = false;

  constructor(private readonly host: PanelCoreHost, init: RevivedState, revived: boolean) {
    const settings = host.settings();
    this.imagePath = init.imagePath;
    this.models = init.models;
    this.method = init.method && METHODS.includes(init.method) ? init.method : settings.method;
    this.compareMethod = init.models.length === 1 ? init.compareMethod : undefined;
    // A new panel starts from the settings; a revived one keeps what the user had chosen.
    this.target = revived ? init.target : init.target ?? settings.target;
    this.options = revived && init.options ? sanitizeOptions(init.options) : { ...settings.options };
    // A revived webview restores its own display settings; only a new one gets them from the settings.
    this.settingsSent = revived;
  }

  /** The model files this panel shows. */
  get modelPaths(): readonly string[] {
    return this.models;
  }

  /** True when comparing two models. */
  get comparing(): boolean {
    return this.models.length > 1;
  }

  /** The current columns. */
  get slots(): SlotSpec[] {
    return slotSpecs(this.models, this.method, this.compareMethod);
  }

  /** The method of the first column, and the second column's method when comparing methods. */
  get methods(): { method: MethodName; compareMethod?: MethodName } {
    return { method: this.method, compareMethod: this.compareMethod };
  }

  /** The result shown in a column, if any. */
  resultOf(slot: number): ExplainResult | undefined {
    return this.results[slot]?.result;
  }

  /** Stops everything; later calls do nothing. */
  dispose(): void {
    this.disposed = true;
    this.abort?.abort();
  }

  /** Replaces the first model (the workspace's choice), keeping a comparison model. */
  setPrimaryModel(modelPath: string): void {
    if (this.models[0] === modelPath) return;
    this.models = [modelPath, ...this.models.slice(1)];
    // Layer names belong to a model.
    if (this.options.layer !== undefined) this.options = { ...this.options, layer: undefined };
    this.results = [];
    this.errors = [];
    this.postContext();
  }

  /** Starts or stops comparing with a second model (ends a method comparison). */
  setCompareModel(modelPath: string | undefined): void {
    this.models = modelPath ? [this.models[0], modelPath] : [this.models[0]];
    this.compareMethod = undefined;
    this.keepFirstColumn();
  }

  /** Starts or stops comparing with a second method on the first model (ends a model comparison). */
  setCompareMethod(method: MethodName | undefined): void {
    this.models = [this.models[0]];
    this.compareMethod = method;
    this.keepFirstColumn();
  }

  /** Sends new display settings (after the user changed the settings). */
  applySettings(settings: Settings): void {
    this.settingsSent = true;
    this.post({ type: 'settings', display: settings.display, method: this.method, options: this.options });
  }

  /**
   * Computes the map(s) for the current columns, method(s), parameters and target; never rejects.
   * `reuse`: columns whose request has not changed keep their result (parameter and method changes).
   */
  async compute(reason: string, opts: { startedAt?: number; reuse?: boolean } = {}): Promise<void> {
    if (this.disposed) return;
    const specs = this.slots;
    const settings = this.host.settings();
    const wantMetrics = !!this.options.metrics;
    const keyOf = (slot: number, primary: ExplainResult | undefined): string =>
      requestKey(specs[slot], slot === 0 ? this.target : undefined, slot === 0 ? undefined : primary?.target.index, this.options, settings);
    const reusable = (slot: number, key: string): boolean => {
      const old = this.results[slot];
      return !!opts.reuse && !!old && old.key === key && (!wantMetrics || hasFaithfulness(old.result));
    };
    const first = this.results[0]?.result;
    const todo = specs.map((_, slot) => !reusable(slot, keyOf(slot, first)));
    if (!todo.some(Boolean)) {
      this.host.log.info(`nothing to recompute (${reason}): the panel already shows these settings`);
      // Back to what is on screen while another computation runs (e.g. a method chosen and unchosen): stop it.
      const running = this.abort;
      if (running) {
        this.abort = undefined;
        this.busy = undefined;
        running.abort();
        this.post({ type: 'busy', requestId: this.seq, message: '' });
      }
      return;
    }
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const requestId = ++this.seq;
    const clickAt = opts.startedAt ?? Date.now();
    this.overlays.forgetBefore(requestId - 2);
    const imageName = path.basename(this.imagePath);
    const names = [...new Set(specs.filter((_, i) => todo[i]).map((s) => methodLabel(s.method)))].join(' and ');
    const title = `Computing ${names} for ${imageName}…`;
    this.busy = { requestId, message: title, fraction: 0 };
    this.errors = specs.map(() => undefined);
    this.post({ type: 'busy', ...this.busy });
    this.host.log.info(`explain ${imageName} with ${specs.map((s) => `${modelName(s.modelPath)} (${s.method})`).join(' and ')}, target ${this.target ?? 'top-1'}${wantMetrics ? ', with faithfulness metrics' : ''} (${reason})`);
    const failures: string[] = [];
    try {
      await this.host.withProgress(async (progress, onCancel) => {
        onCancel(() => ac.abort());
        const share = 1 / todo.filter(Boolean).length;
        let finished = 0;
        let primary: ExplainResult | undefined;
        for (let slot = 0; slot < specs.length && !ac.signal.aborted; slot++) {
          const spec = specs[slot];
          if (slot > 0) primary ??= this.results[0]?.result;
          const key = keyOf(slot, primary);
          if (reusable(slot, key)) {
            if (slot === 0) primary = this.results[0]?.result;
            continue;
          }
          let target = this.target;
          let note: string | undefined;
          if (slot > 0 && spec.modelPath === specs[0].modelPath) target = primary ? primary.target.index : this.target;
          else if (slot > 0) ({ target, note } = await this.compareTarget(primary, ac.signal));
          const label = methodLabel(spec.method);
          progress.report({ message: `${label} · ${modelName(spec.modelPath)} · ${imageName}` });
          let done = 0;
          let lastPost = 0;
          let sentAt = Date.now();
          try {
            const result = await this.host.engine.request('explain', {
              imagePath: this.imagePath, modelPath: spec.modelPath, method: spec.method, target, topK: 5,
              preprocess: settings.preprocess, resize: settings.resize, options: requestOptions(spec.method, this.options),
            }, {
              signal: ac.signal,
              onSent: () => { sentAt = Date.now(); },
              onProgress: (fraction, message) => {
                progress.report({ increment: Math.max(0, fraction - done) * share * 100, message: `${label}: ${message}` });
                done = Math.max(done, fraction);
                const now = Date.now();
                if (this.abort === ac && (now - lastPost >= PROGRESS_EVERY_MS || fraction >= 1)) {
                  lastPost = now;
                  this.busy = { requestId, message: `${title} ${specs.length > 1 ? `${label}: ` : ''}${message}`, fraction: Math.min(1, (finished + done) * share) };
                  this.post({ type: 'busy', ...this.busy });
                }
              },
            });
            finished++;
            if (slot === 0) primary = result;
            if (this.abort !== ac) return;
            this.results[slot] = { requestId, result, note, reason, key };
            this.overlays.received(requestId, { image: imageName, method: spec.method, slot, slots: specs.length, clickAt, sentAt, receivedAt: Date.now(), timingMs: result.timingMs });
            this.post({ type: 'result', requestId, slot, result, note, reason });
            const t = result.timingMs;
            this.host.log.info(`${modelName(spec.modelPath)} ${spec.method}${result.layer ? ` at ${result.layer}` : ''}: top-1 ${result.predictions[0]?.label ?? '?'}, target ${result.target.label} — load ${t.load.toFixed(0)} ms, inference ${t.inference.toFixed(0)} ms, attribution ${t.attribution.toFixed(0)} ms on ${result.backend}`);
          } catch (err) {
            finished++;
            const e = err instanceof EngineError ? err : new EngineError('internal', oneLine(err));
            if (this.abort !== ac) return;
            // The engine names the file by its full path; the panel and the notification already say which image.
            const cancelled = e.kind === 'cancelled';
            const message = cancelled ? 'Cancelled.' : e.message.split(this.imagePath).join(imageName);
            this.errors[slot] = { requestId, message, cancelled };
            if (!cancelled) this.results[slot] = undefined;
            this.post({ type: 'error', requestId, slot, message, cancelled });
            if (cancelled) {
              // The picture still on screen says which method it shows (the webview does the same).
              const shown = this.results[0]?.result.method;
              if (shown) this.method = shown;
              return;
            }
            failures.push(this.comparing ? `${modelName(spec.modelPath)}: ${message}` : message);
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
    // One line per computation, even if both columns failed.
    if (failures.length) this.host.showError(`Saliency Lens: ${failures[0]}`);
  }

  /** Handles the webview's messages except those needing VS Code's UI (export, commands). */
  async onMessage(m: FromWebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.postAll();
        return;
      case 'recompute': {
        const methodChanged = m.method !== undefined && METHODS.includes(m.method) && m.method !== this.method;
        if (m.method && METHODS.includes(m.method)) this.method = m.method;
        // An empty string means "back to the top-1 prediction".
        const targetChanged = m.target !== undefined;
        if (targetChanged) this.target = parseTarget(m.target);
        if (m.options) this.options = sanitizeOptions(m.options);
        const what = methodChanged ? 'method changed in the panel' : targetChanged ? 'target changed in the panel' : 'parameters changed in the panel';
        // Columns whose request is unchanged keep their result (the key includes the target).
        await this.compute(what, { reuse: true });
        return;
      }
      case 'cancel':
        if (this.abort) this.host.log.info('cancelled from the panel');
        this.abort?.abort();
        return;
      case 'displayChanged': {
        const d = m.display;
        this.host.log.info(`display changed in the panel: ${d.colormap}, alpha ${d.alpha}, clip ${d.clipPercentile}%, ${d.reduce} (re-rendered in the webview, no engine request)`);
        return;
      }
      case 'rendered': {
        const line = this.overlays.rendered(m.requestId, m.slot, m.renderMs);
        if (line) this.host.log.info(line);
        return;
      }
      case 'requestLabels': {
        try {
          this.post({ type: 'labels', labels: await this.host.engine.request('labels', { modelPath: this.models[0] }) });
        } catch (err) {
          this.host.log.warn(`labels of ${this.models[0]}: ${oneLine(err)}`);
          this.post({ type: 'labels', labels: [] });
        }
        return;
      }
      case 'requestLayers': {
        const modelPath = this.models[0];
        try {
          this.post({ type: 'layers', modelPath, layers: await this.host.engine.request('layers', { modelPath }) });
        } catch (err) {
          this.host.log.warn(`layers of ${modelPath}: ${oneLine(err)}`);
          this.post({ type: 'layers', modelPath, layers: [] });
        }
        return;
      }
      default:
        return;
    }
  }

  private keepFirstColumn(): void {
    // The first column's results stay valid; a second one starts empty.
    this.results = this.results.slice(0, 1);
    this.errors = this.errors.slice(0, 1);
    this.postContext();
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

  private postContext(): void {
    const slots: PanelSlot[] = this.slots.map((s, i) => ({
      modelPath: s.modelPath, modelName: modelName(s.modelPath), ...(i > 0 && this.compareMethod ? { method: s.method } : {}),
    }));
    this.post({ type: 'context', imagePath: this.imagePath, imageName: path.basename(this.imagePath), slots, methods: METHODS });
  }

  /** Everything a freshly (re)loaded webview needs. */
  private postAll(): void {
    this.postContext();
    if (!this.settingsSent) {
      this.settingsSent = true;
      this.post({ type: 'settings', display: this.host.settings().display, method: this.method, options: this.options });
    }
    this.results.forEach((r, slot) => {
      if (!r) return;
      const { key: _key, ...rest } = r;
      this.post({ type: 'result', slot, ...rest });
    });
    this.errors.forEach((e, slot) => { if (e) this.post({ type: 'error', slot, ...e }); });
    if (this.busy) this.post({ type: 'busy', ...this.busy });
  }

  private post(message: ToWebviewMessage): void {
    if (!this.disposed) this.host.post(message);
  }
}
