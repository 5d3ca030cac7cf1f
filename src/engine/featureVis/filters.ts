/**
 * Activation maximisation on a loaded model: option defaults and validation, batches of filters optimised
 * together, and the objective measured on the start image and on the saved result.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import type { FeatureObjective, FeatureParam, FeatureVisOptions, PreprocessName } from '../../shared/protocol';
import { FEATURE_OBJECTIVES } from '../../shared/protocol';
import type { RgbImage } from '../image/decode';
import { presetParams } from '../image/preprocess';
import { uniformRandom } from '../methods/sampling';
import type { LoadedModel } from '../model';
import { imagesToRgb, rgbBatchToImages, standardizedImages } from './images';
import { objectiveValues, resolveTarget, rgbToInput, type ObjectiveSpec } from './objective';
import { currentValues, optimize, type OptimizeSettings } from './optimize';
import { directParam, fourierParam, pixelParam, type ParamInit } from './param';
import { defaultTransforms } from './transforms';

/** Default number of optimisation steps (Adam). */
export const DEFAULT_STEPS = 128;
/** Default step size (Adam on Fourier coefficients or pixel logits, as lucid). */
export const DEFAULT_LR = 0.05;
/** FlashTorch's GradientAscent: 30 iterations, lr 1, RMS-normalised step. */
export const FLASHTORCH_STEPS = 30;
/**
 * Default selectivity weight: while optimising, the strongest other channel (or class) of the layer is
 * subtracted with this weight, so that the picture excites its own filter more than its neighbours.
 */
export const DEFAULT_CONTRAST = 0.75;
/** Default number of filters when none are listed. */
export const DEFAULT_COUNT = 16;
/** Default number of filters optimised together. */
export const DEFAULT_FILTER_BATCH = 8;

/** A visualised filter: the picture and the objective before (start image) and after (the picture). */
export interface FilterOutcome {
  index: number | null;
  before: number;
  after: number;
  image: RgbImage;
}

/** Progress, cancellation and live images of a feature visualisation. */
export interface FeatureVisHooks {
  onProgress?: (fraction: number, message: string) => void;
  checkpoint?: () => Promise<void>;
  /** Current images of the filters being optimised; `step` of `steps` counts over all batches and octaves. */
  onImages?: (step: number, steps: number, images: FilterOutcome[]) => Promise<void> | void;
}

/** Options with every default applied. */
export interface ResolvedOptions extends OptimizeSettings {
  objective: FeatureObjective;
  param: FeatureParam | 'input';
  height: number;
  width: number;
  seed: number;
  batch: number;
}

function int(value: number | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new BadInputError(name, `must be a whole number from ${min} to ${max} (got ${value})`);
  return value;
}

function real(value: number | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min || value > max) throw new BadInputError(name, `must be a number from ${min} to ${max} (got ${value})`);
  return value;
}

/** Applies defaults (FlashTorch mode: rms step, lr 1, 30 steps, no transforms or penalties) and validates. */
export function resolveOptions(o: FeatureVisOptions = {}, model: LoadedModel, defaults: { steps?: number; lr?: number; optimizer?: 'adam' | 'rms' } = {}): ResolvedOptions {
  const ft = o.flashtorch === true;
  const objective = o.objective ?? 'channel';
  if (!FEATURE_OBJECTIVES.includes(objective)) throw new BadInputError('--objective', `"${objective}" is not one of ${FEATURE_OBJECTIVES.join(', ')}`);
  if (o.param !== undefined && o.param !== 'pixel' && o.param !== 'fourier') throw new BadInputError('--param', `"${o.param}" is not one of pixel, fourier`);
  if (ft && o.param !== undefined) throw new BadInputError('--param', 'FlashTorch mode optimises the model input itself; drop --param or --flashtorch');
  if (o.optimizer !== undefined && o.optimizer !== 'adam' && o.optimizer !== 'rms') throw new BadInputError('--optimizer', `"${o.optimizer}" is not one of adam, rms`);
  const optimizer = o.optimizer ?? (ft ? 'rms' : defaults.optimizer ?? 'adam');
  const steps = int(o.steps, '--steps', 1, 100000, ft ? FLASHTORCH_STEPS : defaults.steps ?? DEFAULT_STEPS);
  const size = int(o.size, '--size', 8, 4096, 0);
  const height = size || model.height;
  const width = size || model.width;
  const transforms = o.transforms ?? !ft;
  return {
    objective,
    param: ft ? 'input' : o.param ?? 'fourier',
    steps,
    height,
    width,
    seed: int(o.seed, '--seed', 0, 2 ** 31 - 1, 0),
    optimizer,
    lr: real(o.lr, '--lr', 1e-6, 1e4, ft ? 1 : defaults.lr ?? DEFAULT_LR),
    l2: real(o.l2, '--l2', 0, 1e6, 0),
    tv: real(o.tv, '--tv', 0, 1e6, 0),
    transforms: transforms ? defaultTransforms(Math.min(height, width)) : null,
    negative: o.negative === true,
    batch: int(o.batch, '--batch', 1, 1024, DEFAULT_FILTER_BATCH),
    imageEvery: int(o.imageEvery, 'imageEvery', 0, 100000, 0),
    redirect: !ft,
    contrast: objective === 'probability' ? 0 : real(o.contrast, '--contrast', 0, 100, ft ? 0 : DEFAULT_CONTRAST),
  };
}

/** Checks listed filter indices, or takes the first `count`, against the layer's channels. */
export function chooseFilters(filters: number[] | undefined, count: number | undefined, channels: number, subject: string): number[] {
  if (filters && filters.length > 0) {
    for (const f of filters) {
      if (!Number.isInteger(f) || f < 0 || f >= channels) throw new BadInputError('--filters', `${f} is not a filter of ${subject} (it has ${channels}: 0 to ${channels - 1})`);
    }
    return filters;
  }
  const n = int(count, '--count', 1, 100000, DEFAULT_COUNT);
  return Array.from({ length: Math.min(n, channels) }, (_, i) => i);
}

/** The objective of each image on 8-bit RGB pictures, exactly as saved. */
export function valuesOnImages(model: LoadedModel, spec: ObjectiveSpec, images: readonly RgbImage[], preprocess: PreprocessName): Float32Array {
  return tf.tidy(() => objectiveValues(model, rgbToInput(imagesToRgb(images), preprocess, model.channels), spec).dataSync() as Float32Array);
}

/** FlashTorch's start: uniform integer levels in [150, 180) per pixel and colour, then preprocessed. */
function flashTorchStart(n: number, h: number, w: number, preprocess: PreprocessName, channels: number, rand: () => number): tf.Tensor4D {
  const levels = new Float32Array(n * h * w * 3);
  for (let i = 0; i < levels.length; i++) levels[i] = Math.floor(150 + 30 * rand()) / 255;
  return tf.tidy(() => rgbToInput(tf.tensor4d(levels, [n, h, w, 3]), preprocess, channels));
}

/**
 * Optimises one image per filter of `layer` (or per class for logit/probability objectives), `batch` filters
 * at a time. Returns the layer (the class-score node for logit objectives) and one outcome per filter.
 */
export async function visualizeModelFilters(model: LoadedModel, preprocess: PreprocessName, layer: string | undefined,
  filters: number[] | undefined, count: number | undefined, options: FeatureVisOptions | undefined, hooks: FeatureVisHooks = {},
): Promise<{ layer: string; options: ResolvedOptions; outcomes: FilterOutcome[] }> {
  const o = resolveOptions(options, model);
  const target = resolveTarget(model, o.objective, layer, o.height, o.width);
  const indices = chooseFilters(filters, count, target.channels, target.layer);
  const rand = uniformRandom(o.seed);
  const bgr = presetParams(preprocess, model.channels as 1 | 3).bgr;
  const toInput = (rgb: tf.Tensor4D) => rgbToInput(rgb, preprocess, model.channels);
  const outcomes: FilterOutcome[] = [];
  const batches = Math.ceil(indices.length / o.batch);
  for (let b = 0; b < batches; b++) {
    const group = indices.slice(b * o.batch, (b + 1) * o.batch);
    const spec: ObjectiveSpec = { kind: o.objective, layer: target.layer, indices: group };
    const n = group.length;
    const init: ParamInit = o.param === 'input'
      ? directParam(flashTorchStart(n, o.height, o.width, preprocess, model.channels, rand), 'input')
      : o.param === 'pixel' ? pixelParam(n, o.height, o.width, rand) : fourierParam(n, o.height, o.width, rand);
    const { param } = init;
    try {
      const pictures = (vars: tf.Tensor[]): RgbImage[] => {
        const rendered = tf.tidy(() => param.render(vars));
        try {
          return param.space === 'rgb' ? rgbBatchToImages(rendered) : standardizedImages(rendered, bgr);
        } finally {
          if (!vars.includes(rendered)) rendered.dispose();
        }
      };
      let before: Float32Array;
      try {
        before = param.space === 'rgb'
          ? valuesOnImages(model, spec, pictures(init.vars), preprocess)
          : currentValues(model, spec, param, init.vars, toInput);
      } catch (err) {
        init.vars.forEach((t) => t.dispose());
        throw err;
      }
      const totalSteps = batches * o.steps;
      const vars = await optimize(model, spec, init, toInput, o, rand, {
        onProgress: (f, m) => hooks.onProgress?.((b + f) / batches, `filters ${b * o.batch + 1}–${b * o.batch + n} of ${indices.length}: ${m}`),
        checkpoint: hooks.checkpoint,
        onImages: hooks.onImages && o.imageEvery > 0
          ? async (step, rendered, values) => {
            const images = param.space === 'rgb' ? rgbBatchToImages(rendered) : standardizedImages(rendered, bgr);
            await hooks.onImages!(b * o.steps + step, totalSteps, group.map((index, i) => ({ index, before: before[i], after: values[i], image: images[i] })));
          }
          : undefined,
      });
      try {
        const images = pictures(vars);
        const after = param.space === 'rgb' ? valuesOnImages(model, spec, images, preprocess) : currentValues(model, spec, param, vars, toInput);
        group.forEach((index, i) => outcomes.push({ index, before: before[i], after: after[i], image: images[i] }));
      } finally {
        vars.forEach((t) => t.dispose());
      }
    } finally {
      param.dispose();
    }
  }
  return { layer: target.layer, options: o, outcomes };
}
