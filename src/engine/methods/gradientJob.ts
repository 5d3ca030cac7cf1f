/**
 * The multi-pass methods as plain data: everything one pass needs is in the job, and each pass is addressed
 * by its index. Gradient jobs (SmoothGrad, VarGrad, Integrated Gradients) sum gradients over their passes;
 * score jobs (occlusion, Score-CAM) are forward passes whose "sum" is the vector of their target logits, each
 * chunk filling its own entries. The engine and its helper threads run the same chunkSums on the same chunks,
 * so a map does not depend on who computed which chunk.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationHook } from '../graph/executor';
import type { LoadedModel } from '../model';
import { uniformRandomFrom } from '../../shared/random';
import { inputGradient } from './gradients';
import { guidedBackpropHook } from './guided';
import { gaussianArray } from './sampling';

/** Gaussian noise around the input (SmoothGrad, VarGrad): pass k sees x + N(0, σ²) drawn for k. */
export interface NoiseJob {
  kind: 'noise';
  sigma: number;
  seed: number;
  /** Multiply each gradient by its noisy input (SmoothGrad on gradient × input). */
  timesInput: boolean;
}

/** Points on the straight path from a baseline to the input (Integrated Gradients), each with a weight. */
export interface PathJob {
  kind: 'path';
  /** NHWC [1,h,w,c] like the input. */
  baseline: Float32Array;
  alphas: number[];
  weights: number[];
}

/** Occlusion: pass k sets a patch × patch window at windows[k] ([y, x]) of the input to `value`. */
export interface OcclusionJob {
  kind: 'occlusion';
  windows: Array<[number, number]>;
  patch: number;
  value: number;
}

/** Score-CAM: pass k masks the input with channel k of a layer's activations, upsampled and min–max normalised. */
export interface ScoreCamJob {
  kind: 'scorecam';
  /** NHWC [1,h,w,channels]. */
  activations: Float32Array;
  activationShape: [number, number, number, number];
}

/** A multi-pass job: passes 0..count−1 of one image for one target. Structured-cloneable. */
export type GradientJob = (NoiseJob | PathJob | OcclusionJob | ScoreCamJob) & {
  /** NHWC [1,h,w,c] preprocessed input. */
  x: Float32Array;
  shape: [number, number, number, number];
  target: number;
  count: number;
  /** Guided ReLUs in the backward pass. */
  guided: boolean;
  /** Also sum the squared gradients (VarGrad, squared SmoothGrad). */
  squares: boolean;
};

/** The fields every job shares, from the input tensor [1,h,w,c]: its data, the target, the passes, guided ReLUs, squares. */
export function jobInput(x: tf.Tensor4D, target: number, count: number, guided = false, squares = false): Pick<GradientJob, 'x' | 'shape' | 'target' | 'count' | 'guided' | 'squares'> {
  return { x: x.dataSync() as Float32Array, shape: x.shape, target, count, guided, squares };
}

/** Draws per pass: gaussianArray consumes its uniforms in pairs. */
function drawsPerSample(size: number): number {
  return 2 * Math.ceil(size / 2);
}

/**
 * The noise of pass `index`: the index-th of the arrays gaussianArray(size, σ, rand) draws one after another
 * from rand = uniformRandom(seed), found without drawing the passes before it.
 */
export function noiseOfPass(seed: number, index: number, size: number, sigma: number): Float32Array {
  return gaussianArray(size, sigma, uniformRandomFrom(seed, index * drawsPerSample(size)));
}

/** Whether a job's passes are forward passes scored by their target logit (occlusion, Score-CAM). */
function isScoreJob(job: GradientJob): job is GradientJob & (OcclusionJob | ScoreCamJob) {
  return job.kind === 'occlusion' || job.kind === 'scorecam';
}

/** The shape of each of a job's sums: the input's for gradient jobs, one entry per pass for score jobs. */
export function sumShape(job: GradientJob): [number, number, number, number] {
  return isScoreJob(job) ? [1, 1, 1, job.count] : job.shape;
}

/** Maps scaled to [0, 1] each (all zero where a map is constant). */
export function minMaxNormalize(maps: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const lo = tf.min(maps, [1, 2, 3], true);
    const hi = tf.max(maps, [1, 2, 3], true);
    const range = tf.sub(hi, lo);
    const safe = tf.where(tf.greater(range, 0), range, tf.onesLike(range));
    return tf.where(tf.greater(range, 0), tf.div(tf.sub(maps, lo), safe), tf.zerosLike(maps)) as tf.Tensor4D;
  });
}

/** The inputs of score-job passes [start, start+n). */
function scoredInputs(job: OcclusionJob | ScoreCamJob, x: tf.Tensor4D, start: number, n: number): tf.Tensor4D {
  const [, H, W] = x.shape;
  if (job.kind === 'scorecam') {
    const [, h, w] = job.activationShape;
    const chunk = tf.slice(tf.tensor4d(job.activations, job.activationShape), [0, 0, 0, start], [1, h, w, n]);
    const maps = tf.transpose(chunk, [3, 1, 2, 0]) as tf.Tensor4D;
    return tf.mul(x, minMaxNormalize(tf.image.resizeBilinear(maps, [H, W], false, true))) as tf.Tensor4D;
  }
  const masks = new Float32Array(n * H * W);
  for (let i = 0; i < n; i++) {
    const [y0, x0] = job.windows[start + i];
    for (let y = y0; y < y0 + job.patch; y++) masks.fill(1, i * H * W + y * W + x0, i * H * W + y * W + x0 + job.patch);
  }
  const m = tf.tensor4d(masks, [n, H, W, 1]);
  return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(m, job.value)) as tf.Tensor4D;
}

function points(job: GradientJob & (NoiseJob | PathJob), start: number, n: number): { points: tf.Tensor4D; weights?: tf.Tensor4D } {
  const [, h, w, c] = job.shape;
  const size = h * w * c;
  const x = tf.tensor4d(job.x, job.shape);
  if (job.kind === 'noise') {
    const noise = new Float32Array(n * size);
    for (let i = 0; i < n; i++) noise.set(noiseOfPass(job.seed, start + i, size, job.sigma), i * size);
    return { points: tf.add(x, tf.tensor4d(noise, [n, h, w, c])) as tf.Tensor4D };
  }
  const baseline = tf.tensor4d(job.baseline, job.shape);
  const alphas = tf.tensor4d(job.alphas.slice(start, start + n), [n, 1, 1, 1]);
  return {
    points: tf.add(baseline, tf.mul(alphas, tf.sub(x, baseline))) as tf.Tensor4D,
    weights: tf.tensor4d(job.weights.slice(start, start + n), [n, 1, 1, 1]),
  };
}

/**
 * The sums over passes [start, start+n) (shaped as sumShape): for gradient jobs Σ wₖ gₖ (wₖ = 1 for noise
 * jobs), and Σ gₖ² when the job asks for squares; for score jobs the passes' target logits in their entries.
 */
export function chunkSums(model: LoadedModel, job: GradientJob, start: number, n: number): tf.Tensor4D[] {
  return tf.tidy(() => {
    if (isScoreJob(job)) {
      const logits = model.logits(scoredInputs(job, tf.tensor4d(job.x, job.shape), start, n), { release: true });
      const scores = tf.reshape(tf.slice(logits, [0, job.target], [n, 1]), [n]);
      // Zeros elsewhere: adding the chunks' vectors in any order gives every score exactly.
      return [tf.reshape(tf.pad(scores, [[start, job.count - start - n]]), [1, 1, 1, job.count]) as tf.Tensor4D];
    }
    const { points: p, weights } = points(job, start, n);
    const hook: ActivationHook | undefined = job.guided ? guidedBackpropHook : undefined;
    let g = inputGradient(model, p, [job.target], hook);
    if (job.kind === 'noise' && job.timesInput) g = tf.mul(g, p) as tf.Tensor4D;
    const weighted = weights ? tf.mul(g, weights) : g;
    const sums = [tf.sum(weighted, 0, true) as tf.Tensor4D];
    if (job.squares) sums.push(tf.sum(tf.square(g), 0, true) as tf.Tensor4D);
    return sums;
  });
}
