/**
 * DeepDream (Mordvintsev et al. 2015): gradient ascent on a photo's pixels to amplify what a layer (or one of
 * its filters) sees, over octaves — first on a reduced copy, then at larger sizes, carrying the detail added
 * so far — with random jitter every step and the RMS-normalised step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import type { FeatureVisOptions, PreprocessName } from '../../shared/protocol';
import type { RgbImage } from '../image/decode';
import { uniformRandom } from '../methods/sampling';
import type { LoadedModel } from '../model';
import { chooseFilters, resolveOptions, valuesOnImages, type FeatureVisHooks, type FilterOutcome, type ResolvedOptions } from './filters';
import { imagesToRgb, rgbBatchToImages } from './images';
import { resolveTarget, rgbToInput, type ObjectiveSpec } from './objective';
import { optimize } from './optimize';
import { directParam } from './param';
import { jitterOnly } from './transforms';

/** DeepDream defaults: steps per octave, step size (RGB in [0, 1], RMS-normalised), octaves, size ratio. */
export const DREAM_DEFAULTS = { steps: 20, lr: 0.02, octaves: 3, octaveScale: 1.4 } as const;

/** Octave sizes from the smallest to the full size, dropping sizes the model cannot run at. */
function octaveSizes(model: LoadedModel, kind: ObjectiveSpec['kind'], layer: string, h: number, w: number, octaves: number, scale: number): Array<[number, number]> {
  const sizes: Array<[number, number]> = [];
  for (let o = octaves - 1; o >= 1; o--) {
    const f = scale ** o;
    const size: [number, number] = [Math.round(h / f), Math.round(w / f)];
    if (size[0] < 8 || size[1] < 8) continue;
    try {
      resolveTarget(model, kind, layer, size[0], size[1]);
      sizes.push(size);
    } catch {
      /* too small for this model: start at a larger octave */
    }
  }
  sizes.push([h, w]);
  return sizes;
}

/**
 * Dreams on `start` (8-bit RGB at the size to optimise): one picture per listed filter (channel or neuron
 * objective), or one for the whole layer (its mean squared activation) when no filters are given.
 */
export async function dreamOnModel(model: LoadedModel, preprocess: PreprocessName, start: RgbImage, layer: string,
  filters: number[] | undefined, options: FeatureVisOptions = {}, hooks: FeatureVisHooks = {},
): Promise<{ layer: string; options: ResolvedOptions; outcomes: FilterOutcome[] }> {
  if (options.flashtorch) throw new BadInputError('--flashtorch', 'applies to filters, not to dream');
  const wholeLayer = !filters || filters.length === 0;
  const requested = options.objective ?? 'channel';
  if (requested !== 'channel' && requested !== 'neuron') {
    throw new BadInputError('--objective', `dream maximises a layer's or its filters' activation (channel or neuron), not ${requested}`);
  }
  const o = resolveOptions({ ...options, size: undefined }, model, { steps: DREAM_DEFAULTS.steps, lr: DREAM_DEFAULTS.lr, optimizer: 'rms' });
  const h = start.height;
  const w = start.width;
  const kind: ObjectiveSpec['kind'] = wholeLayer ? 'layer' : requested;
  const target = resolveTarget(model, kind === 'layer' ? 'channel' : kind, layer, h, w);
  const indices = wholeLayer ? [0] : chooseFilters(filters, undefined, target.channels, target.layer);
  const octaves = options.octaves ?? DREAM_DEFAULTS.octaves;
  const scale = options.octaveScale ?? DREAM_DEFAULTS.octaveScale;
  if (!Number.isInteger(octaves) || octaves < 1 || octaves > 10) throw new BadInputError('--octaves', `must be a whole number from 1 to 10 (got ${octaves})`);
  if (!(scale >= 1.05 && scale <= 4)) throw new BadInputError('--octave-scale', `must be a number from 1.05 to 4 (got ${scale})`);
  const sizes = octaveSizes(model, kind === 'layer' ? 'channel' : kind, target.layer, h, w, octaves, scale);
  const rand = uniformRandom(o.seed);
  const toInput = (rgb: tf.Tensor4D) => rgbToInput(rgb, preprocess, model.channels);
  const outcomes: FilterOutcome[] = [];
  const groups = Math.ceil(indices.length / o.batch);
  const totalSteps = groups * sizes.length * o.steps;
  for (let g = 0; g < groups; g++) {
    const group = indices.slice(g * o.batch, (g + 1) * o.batch);
    const n = group.length;
    const spec: ObjectiveSpec = { kind, layer: target.layer, indices: group };
    const before = valuesOnImages(model, spec, group.map(() => start), preprocess);
    const original = tf.tidy(() => tf.tile(imagesToRgb([start]), [n, 1, 1, 1]) as tf.Tensor4D);
    let detail: tf.Tensor4D | null = null;
    let result: tf.Tensor4D | null = null;
    try {
      for (let k = 0; k < sizes.length; k++) {
        const [oh, ow] = sizes[k];
        const base = tf.tidy(() => (oh === h && ow === w ? original.clone() : tf.image.resizeBilinear(original, [oh, ow], false, true)));
        const startImage = tf.tidy(() => (detail ? tf.clipByValue(tf.add(base, tf.image.resizeBilinear(detail, [oh, ow], false, true)), 0, 1) : base.clone()) as tf.Tensor4D);
        const offset = (g * sizes.length + k) * o.steps;
        try {
          const [img] = await optimize(model, spec, directParam(startImage, 'rgb'), toInput,
            { ...o, transforms: options.transforms === false ? null : jitterOnly(Math.min(oh, ow)), contrast: wholeLayer ? 0 : o.contrast }, rand, {
              onProgress: (f, m) => hooks.onProgress?.((offset + f * o.steps) / totalSteps, `octave ${k + 1}/${sizes.length}: ${m}`),
              checkpoint: hooks.checkpoint,
              onImages: hooks.onImages && o.imageEvery > 0
                ? async (step, rendered, values) => {
                  const images = rgbBatchToImages(rendered);
                  await hooks.onImages!(offset + step, totalSteps, group.map((index, i) => ({ index: wholeLayer ? null : index, before: before[i], after: values[i], image: images[i] })));
                }
                : undefined,
            });
          detail?.dispose();
          detail = tf.tidy(() => tf.sub(img, base) as tf.Tensor4D);
          result?.dispose();
          result = img as tf.Tensor4D;
        } finally {
          base.dispose();
        }
      }
      const images = rgbBatchToImages(result!);
      const after = valuesOnImages(model, spec, images, preprocess);
      group.forEach((index, i) => outcomes.push({ index: wholeLayer ? null : index, before: before[i], after: after[i], image: images[i] }));
    } finally {
      original.dispose();
      (detail as tf.Tensor | null)?.dispose();
      (result as tf.Tensor | null)?.dispose();
    }
  }
  return { layer: target.layer, options: o, outcomes };
}
