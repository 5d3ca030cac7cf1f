/**
 * What a feature visualisation panel (a filter grid, or a DeepDream) asks the engine and tells its webview,
 * without `vscode` (unit-tested against the fake engine): one request with progress, live images and cancel,
 * and the latest images kept for a reloaded webview.
 */
import { oneLine } from '../shared/errors';
import { countOf } from '../shared/text';
import type { FeatureJob, FeatureKind, FeatureVisResult, FilterImage, FromFeatureWebviewMessage, ToFeatureWebviewMessage } from '../shared/protocol';
import { EngineError, type EngineClient } from './engineClient';
import type { PanelCoreHost } from './panelCore';
import { modelName } from './paths';

/** What the core needs from the extension (vscode in the product, plain functions in tests). */
export type FeatureCoreHost = Pick<PanelCoreHost, 'withProgress' | 'showError' | 'log'> & {
  engine: Pick<EngineClient, 'request'>;
  post(message: ToFeatureWebviewMessage): void;
  /** Checked before each run (a panel restored after a reload): a one-line reason not to run, shown in the panel. */
  check?(job: FeatureJob): Promise<string | undefined>;
};

export type { FeatureJob } from '../shared/protocol';

/** How often (ms) live images and progress are forwarded to the webview. */
const POST_EVERY_MS = 150;

/** The title of a feature panel: "Filters: <layer>" or "Dream: <file>". */
export function featureTitle(job: FeatureJob): string {
  return job.kind === 'filters' ? `Filters: ${job.params.layer}` : `Dream: ${job.params.imagePath.split(/[\\/]/).pop() ?? ''}`;
}

/** A filter or dream panel's state and its one computation. */
export class FeatureCore {
  private images = new Map<string, FilterImage>();
  private step = 0;
  private result: FeatureVisResult | undefined;
  private error: { message: string; cancelled: boolean } | undefined;
  private busy: { message: string; fraction?: number } | undefined;
  private abort: AbortController | undefined;
  private disposed = false;

  constructor(private readonly host: FeatureCoreHost, readonly job: FeatureJob) {}

  /** The panel kind. */
  get kind(): FeatureKind {
    return this.job.kind;
  }

  /** The final result, once there is one. */
  get finished(): FeatureVisResult | undefined {
    return this.result;
  }

  /** The filters requested (null: a whole-layer dream). */
  get filters(): (number | null)[] {
    return this.job.params.filters ?? [null];
  }

  /** Stops the computation; later calls do nothing. */
  dispose(): void {
    this.disposed = true;
    this.abort?.abort();
  }

  /** Runs the job under a cancellable progress notification; never rejects. */
  async run(): Promise<void> {
    if (this.disposed) return;
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    this.images.clear();
    this.result = undefined;
    this.error = undefined;
    const { job } = this;
    if (this.host.check) {
      let refusal: string | undefined;
      try {
        refusal = await this.host.check(job);
      } catch (err) {
        refusal = oneLine(err);
      }
      if (this.abort !== ac) return;
      if (refusal) {
        // Shown in the panel only: a window reload should not greet the user with notifications.
        this.abort = undefined;
        this.error = { message: refusal, cancelled: false };
        this.host.log.warn(`not running ${featureTitle(job)}: ${refusal}`);
        this.host.post({ type: 'featureError', ...this.error });
        return;
      }
    }
    const what = job.kind === 'filters'
      ? `Visualising ${countOf(this.filters.length, 'filter')} of ${job.params.layer}`
      : `Dreaming ${featureTitle(job).slice(7)} at ${job.params.layer}`;
    this.busy = { message: `${what}…`, fraction: 0 };
    this.postBusy();
    this.host.log.info(`${what} with ${modelName(job.params.modelPath)} (steps ${job.params.options?.steps ?? 'default'}, size ${job.params.options?.size ?? 'default'})`);
    let failure: string | undefined;
    try {
      await this.host.withProgress(async (progress, onCancel) => {
        onCancel(() => ac.abort());
        progress.report({ message: what });
        let done = 0;
        let lastProgress = 0;
        let lastImages = 0;
        const opts = {
          signal: ac.signal,
          onProgress: (fraction: number, message: string): void => {
            progress.report({ increment: Math.max(0, fraction - done) * 100, message: `${what}: ${message}` });
            done = Math.max(done, fraction);
            const now = Date.now();
            if (this.abort === ac && (now - lastProgress >= POST_EVERY_MS || fraction >= 1)) {
              lastProgress = now;
              this.busy = { message: `${what}… ${message}`, fraction: Math.min(1, done) };
              this.postBusy();
            }
          },
          onImages: (step: number, steps: number, images: FilterImage[]): void => {
            if (this.abort !== ac) return;
            for (const im of images) this.images.set(String(im.index), im);
            this.step = step;
            const now = Date.now();
            if (now - lastImages < POST_EVERY_MS && step < steps) return;
            lastImages = now;
            this.host.post({ type: 'featureImages', step, steps, images: [...this.images.values()] });
          },
        };
        try {
          const result = job.kind === 'filters'
            ? await this.host.engine.request('visualizeFilters', job.params, opts)
            : await this.host.engine.request('dream', job.params, opts);
          if (this.abort !== ac) return;
          this.result = result;
          this.host.post({ type: 'featureResult', result });
          this.host.log.info(`${what}: ${result.filters.length} image(s), optimise ${result.timingMs.optimize.toFixed(0)} ms on ${result.backend}`);
        } catch (err) {
          const e = err instanceof EngineError ? err : new EngineError('internal', oneLine(err));
          if (this.abort !== ac) return;
          const cancelled = e.kind === 'cancelled';
          // The throttle may have held back the latest images: they stay on screen after a cancel.
          if (this.images.size) this.host.post({ type: 'featureImages', step: this.step, steps: 0, images: [...this.images.values()] });
          this.error = { message: cancelled ? 'Cancelled.' : e.message, cancelled };
          this.host.post({ type: 'featureError', ...this.error });
          if (!cancelled) failure = e.message;
        }
      });
    } catch (err) {
      failure = oneLine(err);
    } finally {
      if (this.abort === ac) {
        this.abort = undefined;
        this.busy = undefined;
        this.postBusy();
      }
    }
    if (failure) this.host.showError(`Saliency Lens: ${failure}`);
  }

  /** Handles the webview's messages except exports (which need VS Code's UI). */
  onMessage(m: FromFeatureWebviewMessage): void {
    if (m.type === 'ready') this.postAll();
    else if (m.type === 'rerun') {
      if (!this.abort) void this.run();
    } else if (m.type === 'cancel') {
      if (this.abort) this.host.log.info('cancelled from the panel');
      this.abort?.abort();
    }
  }

  /** Everything a freshly (re)loaded webview needs. */
  private postAll(): void {
    const { job } = this;
    this.host.post({
      type: 'featureContext', kind: job.kind, title: featureTitle(job), modelName: modelName(job.params.modelPath),
      layer: job.params.layer, filters: this.filters, steps: job.params.options?.steps ?? 0,
      ...(job.kind === 'dream' ? { imageName: featureTitle(job).slice(7) } : {}),
      job,
    });
    if (this.result) this.host.post({ type: 'featureResult', result: this.result });
    else if (this.images.size) this.host.post({ type: 'featureImages', step: this.step, steps: 0, images: [...this.images.values()] });
    if (this.error) this.host.post({ type: 'featureError', ...this.error });
    if (this.busy) this.postBusy();
  }

  private postBusy(): void {
    if (this.disposed) return;
    this.host.post({ type: 'featureBusy', message: this.busy?.message ?? '', fraction: this.busy?.fraction });
  }
}
