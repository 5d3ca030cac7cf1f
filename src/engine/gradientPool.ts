/**
 * Helper threads for the multi-pass methods (SmoothGrad, VarGrad, Integrated Gradients, occlusion, Score-CAM).
 * Each helper is a worker thread with its own TF.js on one thread and its own copy of the model; it claims
 * chunks of passes from the same shared counter as the engine's thread (methods/chunkRunner.ts). A single map
 * cannot be split, but these methods' passes are independent, so a helper nearly doubles the work done on
 * 2 cores, at the cost of a second model copy.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../shared/protocol';
import { wantedGradientWorkers } from './backend';
import type { EngineToHelper, GradientWorkerData, HelperMessage, JobMessage } from './gradientWorkerProtocol';
import type { Chunk, GradientHelpers } from './methods/chunkRunner';
import type { GradientJob } from './methods/gradientJob';
import type { LoadedModel } from './model';

/**
 * Passes faster than this stay on the engine's thread: a helper costs a message, a copy of the sums and,
 * the first time, seconds of model loading (the demo model's passes take ~3 ms, darknet-tiny's ~50 ms).
 */
export const MIN_PASS_MS = 15;
/** V8's young generation of a helper thread (MB). */
const HELPER_YOUNG_GENERATION_MB = 4;
/** Helpers that fail to start this many times in a row are not started again. */
const MAX_START_FAILURES = 2;
/** Idle helpers stop after this long, giving their memory (a model copy and a grown wasm heap) back. */
export const IDLE_STOP_MS = 120_000;

/** The entry of a helper thread: the bundle beside this file, or (run from source) a boot file loading the TypeScript. */
function workerEntry(): { file: string; workerData: Record<string, unknown> } {
  const bundled = join(__dirname, 'gradient-worker.js');
  if (existsSync(bundled)) return { file: bundled, workerData: {} };
  return { file: join(__dirname, 'gradientWorkerBoot.cjs'), workerData: { entry: join(__dirname, 'gradientWorker.ts') } };
}

/** Options of a GradientPool. */
export interface GradientPoolOptions {
  backend: BackendName;
  /** The engine's wasm threads (the helpers make the same kernel choices). */
  engineThreads: number;
  /** Helper threads (undefined: wantedGradientWorkers). */
  size?: number;
  /** Passes faster than this (ms) run without helpers (default MIN_PASS_MS). */
  minPassMs?: number;
  /** Idle helpers stop after this long (default IDLE_STOP_MS). */
  idleStopMs?: number;
  log?: (message: string) => void;
}

interface Helper {
  worker: Worker;
  /** It answered a message: whatever ends it later is not a failure to start. */
  started?: boolean;
  /** The pool stopped it. */
  stopping?: boolean;
  /** The model it holds (modelKey), once it has answered a request about it. */
  model?: string;
  /** Per request id, what to do with the helper's answers. */
  readonly listeners: Map<number, (message: HelperMessage) => void>;
  /** Called (once) when the thread has exited. */
  readonly onExit: Set<() => void>;
}

function modelKey(model: LoadedModel): string {
  return `${model.path}\0${model.mtimeMs}`;
}

/** A lazily started set of gradient helper threads, kept for the engine's lifetime. */
export class GradientPool implements GradientHelpers {
  readonly size: number;
  private readonly helpers: Helper[] = [];
  private nextJob = 1;
  private startFailures = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private busy = 0;
  private preparing: string | undefined;
  /** Chunks computed by helpers since the pool was made (for tests and the log). */
  chunksByHelpers = 0;

  constructor(private readonly options: GradientPoolOptions) {
    this.size = options.size ?? wantedGradientWorkers(options.backend);
  }

  /**
   * Whether a helper is loading a model or computing (the other cores are taken). Loading counts: at its lower
   * priority a helper would starve beside a spinning kernel thread (back-to-back ResNet-18 SmoothGrads never got
   * it ready: 3.0 s each instead of 2.0 s).
   */
  get computing(): boolean {
    return this.busy > 0;
  }

  /** Helpers that would take part in jobs on this model whose passes take `msPerPass` on the engine's thread. */
  helpersFor(model: LoadedModel, msPerPass: number): number {
    if (this.size === 0 || this.startFailures >= MAX_START_FAILURES) return 0;
    // A model built in memory has no file a helper could load.
    if (model.mtimeMs <= 0 || !existsSync(model.path)) return 0;
    return msPerPass >= (this.options.minPassMs ?? MIN_PASS_MS) ? this.size : 0;
  }

  /** Helpers that hold the model now. */
  readyFor(model: LoadedModel): number {
    const key = modelKey(model);
    return this.helpers.filter((h) => h.model === key).length;
  }

  /**
   * Starts the helpers that do not hold the model loading it (seconds for a large model), unless they are, and
   * computing the first pass of `warmUp` (building the kernel variants its kind of pass uses).
   */
  getReady(model: LoadedModel, warmUp?: GradientJob): void {
    const key = modelKey(model);
    if (this.readyFor(model) >= this.size || this.preparing === key) return;
    this.preparing = key;
    void this.prepare(model, warmUp).finally(() => {
      if (this.preparing === key) this.preparing = undefined;
    });
  }

  /** Starts the helpers on a job; resolves when every one of them has stopped taking part in it. */
  run(model: LoadedModel, job: GradientJob, chunks: Chunk[], claims: Int32Array,
    deliver: (index: number, sums: Float32Array[]) => void): Promise<void> {
    const id = this.nextJob++;
    const message: JobMessage = { type: 'job', id, modelPath: model.path, mtimeMs: model.mtimeMs, job, chunks, claims };
    return this.each(id, modelKey(model), message, (m) => {
      if (m.type !== 'chunk') return false;
      this.chunksByHelpers++;
      deliver(m.index, m.sums);
      return true;
    });
  }

  /** Starts the helpers and loads a model into each (then warms it up on `warmUp`); resolves when all have it (or stopped trying). */
  prepare(model: LoadedModel, warmUp?: GradientJob): Promise<void> {
    const id = this.nextJob++;
    return this.each(id, modelKey(model), { type: 'load', id, modelPath: model.path, mtimeMs: model.mtimeMs, warmUp }, () => false);
  }

  /** Stops every helper (they start again at the next job). */
  dispose(): void {
    clearTimeout(this.idleTimer);
    for (const h of this.helpers.splice(0)) {
      h.stopping = true;
      void h.worker.terminate();
    }
  }

  /**
   * Sends a request to every helper and resolves when each has answered it with anything `progress` does not
   * consume (loaded, done, failed), or has exited. Answers about a model record that the helper holds it.
   */
  private each(id: number, key: string, message: EngineToHelper, progress: (m: HelperMessage) => boolean): Promise<void> {
    clearTimeout(this.idleTimer);
    this.busy++;
    const answered = this.ensureHelpers().map((helper) => new Promise<void>((resolve) => {
      const finish = (): void => {
        helper.listeners.delete(id);
        helper.onExit.delete(finish);
        // An idle helper must not keep a CLI run alive; one that is answering must.
        if (helper.listeners.size === 0) helper.worker.unref();
        resolve();
      };
      helper.worker.ref();
      helper.onExit.add(finish);
      helper.listeners.set(id, (m) => {
        if (m.type === 'failed') this.options.log?.(`gradient helper: ${m.message}`);
        else helper.model = key;
        if (!progress(m)) finish();
      });
      helper.worker.postMessage(message);
    }));
    return Promise.all(answered).then(() => {
      if (--this.busy === 0) this.idleTimer = setTimeout(() => this.dispose(), this.options.idleStopMs ?? IDLE_STOP_MS).unref();
    });
  }

  private ensureHelpers(): Helper[] {
    while (this.helpers.length < this.size) this.helpers.push(this.startHelper());
    return this.helpers;
  }

  private startHelper(): Helper {
    const entry = workerEntry();
    const data: GradientWorkerData = { backend: this.options.backend, engineThreads: this.options.engineThreads };
    // A helper allocates little JavaScript (its tensors live in wasm memory): a small young generation keeps
    // ~30-80 MB of semi-space pages out of the engine's RSS (ResNet-18 SmoothGrad peak 1017 -> 932 MB).
    const worker = new Worker(entry.file, { workerData: { ...entry.workerData, ...data }, resourceLimits: { maxYoungGenerationSizeMb: HELPER_YOUNG_GENERATION_MB } });
    // An idle helper must not keep a CLI run alive.
    worker.unref();
    const helper: Helper = { worker, listeners: new Map(), onExit: new Set() };
    worker.on('message', (m: HelperMessage) => {
      if (m.type !== 'failed') {
        helper.started = true;
        this.startFailures = 0;
      }
      if (m.type === 'failed' && m.id === -1) this.options.log?.(`gradient helper: ${m.message}`);
      helper.listeners.get(m.id)?.(m);
    });
    worker.on('error', (err) => this.options.log?.(`gradient helper crashed: ${err.message}`));
    worker.on('exit', (code) => {
      const i = this.helpers.indexOf(helper);
      if (i >= 0) this.helpers.splice(i, 1);
      if (code !== 0 && !helper.started && !helper.stopping && ++this.startFailures >= MAX_START_FAILURES) this.options.log?.('gradient helpers failed to start twice: the engine computes alone from now on');
      for (const done of [...helper.onExit]) done();
    });
    return helper;
  }
}
