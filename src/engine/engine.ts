/** The compute engine: loads models and images, predicts and explains. Independent of VS Code. */
import * as tf from '@tensorflow/tfjs-core';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadInputError, CancelledError } from '../shared/errors';
import type {
  BackendName, ExplainParams, ExplainResult, LayerInfo, ModelOptions, Prediction, PredictResult, PreprocessName,
  ResizeMode, RgbaImage,
} from '../shared/protocol';
import { initBackend } from './backend';
import { decodeImage, type RgbImage } from './image/decode';
import { fitImage } from './image/fit';
import { preprocessImage } from './image/preprocess';
import { resolveTarget } from './labels';
import { runMethod, type MethodContext } from './methods';
import { faithfulness } from './methods/faithfulness';
import { DEFAULT_PREPROCESS, DEFAULT_RESIZE, LoadedModel } from './model';
import { toRgbaImage } from './featureVis/images';

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

/** Loads models (cached by path and modification time) and runs requests on them. */
export class Engine {
  private readonly models = new Map<string, LoadedModel>();
  private readonly inputs = new Map<string, PreparedInput>();

  private constructor(readonly backend: BackendName) {}

  /** Starts TF.js on the preferred backend. */
  static async create(backend?: BackendName | 'auto'): Promise<Engine> {
    return new Engine(await initBackend(backend));
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
      cached.dispose();
      this.models.delete(key);
    }
    const model = await LoadedModel.load(path, labelsPath);
    this.models.set(key, model);
    while (this.models.size > MAX_CACHED_MODELS) {
      const [oldest, m] = this.models.entries().next().value as [string, LoadedModel];
      m.dispose();
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
    const prepared: PreparedInput = { fitted, values, preprocess, preprocessSource };
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
    const logits = tf.tidy(() => model.logits(tf.tensor4d(input.values, [1, model.height, model.width, model.channels]), { release: true }));
    const predictions = topPredictions(model, logits, params.topK ?? 5);
    logits.dispose();
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
    const x = tf.tensor4d(input.values, [1, model.height, model.width, model.channels]);
    try {
      control?.onProgress?.(0.2, 'predicting');
      const t0 = performance.now();
      const logits = tf.tidy(() => model.logits(x, { release: true }));
      const predictions = topPredictions(model, logits, Math.max(params.topK ?? 5, 1));
      logits.dispose();
      const inferenceMs = performance.now() - t0;
      const targetIndex = params.target === undefined || params.target === ''
        ? predictions[0].index
        : resolveTarget(model.labels, params.target);
      await checkpoint(control);
      control?.onProgress?.(0.3, `computing ${params.method}`);
      const t1 = performance.now();
      const options = params.options ?? {};
      const ctx: MethodContext = {
        options,
        pixelToInput: (level) => preprocessImage({ width: 1, height: 1, data: new Uint8Array([level, level, level]) }, input.preprocess, model.channels),
        onProgress: (f, m) => control?.onProgress?.(0.3 + (options.metrics ? 0.4 : 0.7) * f, m),
        checkpoint: () => checkpoint(control),
      };
      const out = await runMethod(params.method, model, x, [targetIndex], ctx);
      try {
        const attributionMs = performance.now() - t1;
        let metrics = options.metrics
          ? await faithfulness(model, x, targetIndex, params.method, out.attribution, { ...ctx, onProgress: (f, m) => control?.onProgress?.(0.7 + 0.3 * f, m) })
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

  /** Frees every cached model. */
  dispose(): void {
    for (const m of this.models.values()) m.dispose();
    this.models.clear();
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
