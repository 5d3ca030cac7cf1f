/** The compute engine: loads models and images, predicts and explains. Independent of VS Code. */
import * as tf from '@tensorflow/tfjs-core';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadInputError, CancelledError } from '../shared/errors';
import type {
  BackendName, ExplainParams, ExplainResult, LayerInfo, ModelOptions, Prediction, PredictResult, PreprocessName,
  ResizeMode,
} from '../shared/protocol';
import { backendThreads, initBackend } from './backend';
import { GradientPool } from './gradientPool';
import { setKernelThreadsGate } from './kernels/kernelThreads';
import { decodeImage, type RgbImage } from './image/decode';
import { fitImage } from './image/fit';
import { preprocessImage } from './image/preprocess';
import { resolveTarget } from './labels';
import { activationLayer, runMethod, runsWithLogits, runWithLogits, type MethodContext, type MethodOutput } from './methods';
import { logitsAndLayerFeeds } from './methods/cam';
import { faithfulness } from './methods/faithfulness';
import { DEFAULT_PREPROCESS, DEFAULT_RESIZE, LoadedModel } from './model';
import { toRgbaImage } from './featureVis/images';
import { ForwardCache, type ForwardCacheLimits } from './forwardCache';

/** Per-request hooks: progress reports and cancellation. */
export interface RequestControl {
  onProgress?: (fraction: number, message: string) => void;
  isCancelled?: () => boolean;
}

/** A model's input, prepared from an image. */
export interface PreparedInput {
  fitted: RgbImage;
  /** NHWC [1,H,W,C] preprocessed values. */
  values: Float32Array;
  preprocess: PreprocessName;
  preprocessSource: 'option' | 'settings-file' | 'default';
  /** Everything that determines `values` (image path and mtime, geometry, resize, preprocessing). */
  key: string;
}

const MAX_CACHED_MODELS = 3;
const MAX_CACHED_INPUTS = 8;

/** Yields to the event loop so that cancel messages can arrive, then honours them. */
async function checkpoint(control: RequestControl | undefined): Promise<void> {
  await new Promise((r) => setImmediate(r));
  if (control?.isCancelled?.()) throw new CancelledError();
}

/** Top-k predictions from a [1, classes] score tensor. */
export function topPredictions(model: LoadedModel, logits: tf.Tensor2D, k: number): Prediction[] {
  const probabilities = tf.tidy(() => model.probabilities(logits));
  const probs = probabilities.dataSync() as Float32Array;
  probabilities.dispose();
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, Math.max(1, k));
  return order.map((index) => ({ index, label: model.labels[index], probability: probs[index] }));
}

/** Top-k predictions from the logits of one image. */
export function predictionsFromLogits(model: LoadedModel, logits: Float32Array, k: number): Prediction[] {
  const t = tf.tensor2d(logits, [1, logits.length]);
  try {
    return topPredictions(model, t, k);
  } finally {
    t.dispose();
  }
}

/** Options of an Engine. */
export interface EngineOptions {
  /** Bounds of the cache of logits and CAM-layer activations per model and input. */
  forwardCache?: ForwardCacheLimits;
  /** Gradient helper threads (undefined: the setGradientWorkers option, else SALIENCY_LENS_WORKERS, else automatic; 0: none). */
  workers?: number;
  /** Where the engine reports what happens to its helpers. */
  log?: (message: string) => void;
}

/** Loads models (cached by path and modification time) and runs requests on them. */
export class Engine {
  private readonly models = new Map<string, LoadedModel>();
  private readonly inputs = new Map<string, PreparedInput>();
  private readonly forward: ForwardCache;
  // Forward results are keyed by model instance: a reloaded model is a new instance.
  private readonly modelIds = new WeakMap<LoadedModel, number>();
  private nextModelId = 1;

  /** Helper threads for the multi-pass methods (SmoothGrad, VarGrad, IG, occlusion, Score-CAM). */
  readonly helpers: GradientPool;

  private constructor(readonly backend: BackendName, options: EngineOptions) {
    this.forward = new ForwardCache(options.forwardCache);
    this.helpers = new GradientPool({ backend, engineThreads: backendThreads() ?? 1, size: options.workers, log: options.log });
    // Gradient helpers take the cores kernel threads would spin on: two busy threads per core stall both.
    setKernelThreadsGate(() => !this.helpers.computing);
  }

  /** Starts TF.js on the preferred backend. */
  static async create(backend?: BackendName | 'auto', options: EngineOptions = {}): Promise<Engine> {
    return new Engine(await initBackend(backend), options);
  }

  /** A loaded model and how long loading took (0 when it came from the cache). */
  async model(modelPath: string, labelsPath?: string): Promise<{ model: LoadedModel; loadMs: number }> {
    const path = resolve(modelPath);
    const key = `${path}\0${labelsPath ?? ''}`;
    const cached = this.models.get(key);
    let mtime = -1;
    try {
      mtime = statSync(path).mtimeMs;
    } catch {
      /* reported by LoadedModel.load */
    }
    if (cached && cached.mtimeMs === mtime) {
      this.models.delete(key);
      this.models.set(key, cached);
      return { model: cached, loadMs: 0 };
    }
    if (cached) {
      this.disposeModel(cached);
      this.models.delete(key);
    }
    const model = await LoadedModel.load(path, labelsPath);
    this.models.set(key, model);
    while (this.models.size > MAX_CACHED_MODELS) {
      const [oldest, m] = this.models.entries().next().value as [string, LoadedModel];
      this.disposeModel(m);
      this.models.delete(oldest);
    }
    return { model, loadMs: model.loadMs };
  }

  /** Decodes, fits and preprocesses an image for a model. */
  async prepareInput(model: LoadedModel, imagePath: string, options: ModelOptions): Promise<PreparedInput> {
    const preprocess = options.preprocess ?? model.settings.preprocess ?? DEFAULT_PREPROCESS;
    const preprocessSource = options.preprocess ? 'option' : model.settings.preprocess ? 'settings-file' : 'default';
    const resize: ResizeMode = options.resize ?? model.settings.resize ?? DEFAULT_RESIZE;
    // The panel asks again for the same image with another method or target: keep the decoded, fitted input.
    let mtime = -1;
    try {
      mtime = statSync(imagePath).mtimeMs;
    } catch {
      /* decodeImage reports a missing file */
    }
    const key = [resolve(imagePath), mtime, model.height, model.width, model.channels, resize, preprocess].join('\0');
    const cached = this.inputs.get(key);
    if (cached && mtime >= 0) {
      this.inputs.delete(key);
      this.inputs.set(key, cached);
      return { ...cached, preprocessSource };
    }
    const decoded = await decodeImage(imagePath);
    const fitted = await fitImage(decoded, model.height, model.width, resize);
    const values = preprocessImage(fitted, preprocess, model.channels);
    const prepared: PreparedInput = { fitted, values, preprocess, preprocessSource, key };
    this.inputs.set(key, prepared);
    while (this.inputs.size > MAX_CACHED_INPUTS) this.inputs.delete(this.inputs.keys().next().value as string);
    return prepared;
  }

  /** Top-k predictions for an image. */
  async predict(params: ModelOptions & { imagePath: string; topK?: number }, control?: RequestControl): Promise<PredictResult> {
    const { model, loadMs } = await this.model(params.modelPath, params.labelsPath);
    await checkpoint(control);
    const input = await this.prepareInput(model, params.imagePath, params);
    const start = performance.now();
    const id = this.modelId(model);
    let logits = this.forward.logits(id, input.key);
    if (!logits) {
      logits = tf.tidy(() => Float32Array.from(model.logits(tf.tensor4d(input.values, [1, model.height, model.width, model.channels]), { release: true }).dataSync()));
      this.forward.putLogits(id, input.key, logits);
    }
    const predictions = predictionsFromLogits(model, logits, params.topK ?? 5);
    return {
      backend: this.backend, model: model.info(input.preprocess, input.preprocessSource), predictions,
      timingMs: { load: loadMs, inference: performance.now() - start },
    };
  }

  /** An attribution map for an image. */
  async explain(params: ExplainParams, control?: RequestControl): Promise<ExplainResult> {
    control?.onProgress?.(0, 'loading model');
    const { model, loadMs } = await this.model(params.modelPath, params.labelsPath);
    await checkpoint(control);
    control?.onProgress?.(0.1, 'reading image');
    const input = await this.prepareInput(model, params.imagePath, params);
    await checkpoint(control);
    const requested = params.target === undefined || params.target === '' ? undefined : resolveTarget(model.labels, params.target);
    const options = params.options ?? {};
    const layer = activationLayer(params.method, model, options);
    const id = this.modelId(model);
    const activations = this.forward.activations(id, input.key);
    let predictions: Prediction[] = [];
    let targetIndex = -1;
    const choose = (logits: Float32Array): number => {
      predictions = predictionsFromLogits(model, logits, Math.max(params.topK ?? 5, 1));
      targetIndex = requested ?? predictions[0].index;
      return targetIndex;
    };
    const ctx: MethodContext = {
      options,
      pixelToInput: (level) => preprocessImage({ width: 1, height: 1, data: new Uint8Array([level, level, level]) }, input.preprocess, model.channels),
      onProgress: (f, m) => control?.onProgress?.(0.3 + (options.metrics ? 0.4 : 0.7) * f, m),
      checkpoint: () => checkpoint(control),
      activations,
      helpers: this.helpers,
    };
    const x = tf.tensor4d(input.values, [1, model.height, model.width, model.channels]);
    try {
      control?.onProgress?.(0.2, 'predicting');
      const t0 = performance.now();
      // The logits come from the cache, from the method's own forward pass (one-pass gradient methods), from
      // the pass that also computes the CAM layer's activations, or from a plain forward pass.
      let logits = this.forward.logits(id, input.key);
      const cached = logits !== undefined;
      if (!logits && layer && !activations.has(layer)) {
        const r = logitsAndLayerFeeds(model, x, layer);
        activations.put(layer, r.feeds);
        for (const t of r.feeds.values()) t.dispose();
        logits = r.logits;
      } else if (!logits && !runsWithLogits(params.method)) {
        logits = tf.tidy(() => Float32Array.from(model.logits(x, { release: true }).dataSync()));
      }
      if (logits) choose(logits);
      const inferenceMs = performance.now() - t0;
      await checkpoint(control);
      control?.onProgress?.(0.3, `computing ${params.method}`);
      const t1 = performance.now();
      let out: MethodOutput;
      if (logits) {
        out = await runMethod(params.method, model, x, [targetIndex], ctx);
      } else {
        const r = runWithLogits(params.method, model, x, choose)!;
        out = r.output;
        logits = r.logits;
      }
      try {
        if (!cached) this.forward.putLogits(id, input.key, logits);
        const attributionMs = performance.now() - t1;
        let metrics = options.metrics
          // The check re-runs the method with randomised weights: the cached activations are not theirs.
          ? await faithfulness(model, x, targetIndex, params.method, out.attribution, { ...ctx, activations: undefined, onProgress: (f, m) => control?.onProgress?.(0.7 + 0.3 * f, m) })
          : undefined;
        if (out.completeness) metrics = { ...metrics, completeness: out.completeness };
        const [, h, w, c] = out.attribution.shape;
        const data = (await out.attribution.data()) as Float32Array;
        return {
          backend: this.backend, model: model.info(input.preprocess, input.preprocessSource), predictions,
          method: params.method, target: { index: targetIndex, label: model.labels[targetIndex] },
          timingMs: { load: loadMs, inference: inferenceMs, attribution: attributionMs },
          input: toRgbaImage(input.fitted),
          attribution: { height: h, width: w, channels: c, data: data.buffer as ArrayBuffer, signed: out.signed },
          layer: out.layer,
          metrics,
        };
      } finally {
        out.attribution.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  /** The layer listing of a model. */
  async layers(modelPath: string): Promise<LayerInfo[]> {
    const { model } = await this.model(modelPath);
    return model.layers();
  }

  /** The class labels of a model. */
  async labels(options: ModelOptions): Promise<string[]> {
    const { model } = await this.model(options.modelPath, options.labelsPath);
    return model.labels;
  }

  /** Frees every cached model and forward result. */
  dispose(): void {
    for (const m of this.models.values()) m.dispose();
    this.models.clear();
    this.forward.dispose();
    this.helpers.dispose();
  }

  /** Number of cached forward results and their bytes (logits and CAM-layer activations). */
  forwardCacheStats(): { entries: number; bytes: number } {
    return this.forward.stats();
  }

  private modelId(model: LoadedModel): number {
    let id = this.modelIds.get(model);
    if (id === undefined) this.modelIds.set(model, (id = this.nextModelId++));
    return id;
  }

  private disposeModel(model: LoadedModel): void {
    const id = this.modelIds.get(model);
    if (id !== undefined) this.forward.dropModel(id);
    model.dispose();
  }
}

/** Throws a BadInputError when an image path is not a readable file. */
export function assertFile(path: string): void {
  let ok = false;
  try {
    ok = statSync(path).isFile();
  } catch {
    throw new BadInputError(path, 'file not found');
  }
  if (!ok) throw new BadInputError(path, 'not a file');
}
