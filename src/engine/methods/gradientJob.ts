/**
 * The multi-pass gradient methods (SmoothGrad, VarGrad, Integrated Gradients) as plain data: everything one
 * pass needs is in the job, and each pass is addressed by its index. The engine and its helper threads run
 * the same chunkSums on the same chunks, so a map does not depend on who computed which chunk.
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

/** A multi-pass gradient job: passes 0..count−1 of one image for one target. Structured-cloneable. */
export type GradientJob = (NoiseJob | PathJob) & {
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

/** Draws per pass: gaussianArray consumes its uniforms in pairs. */
function drawsPerSample(size: number): number {
  return 2 * Math.ceil(size / 2);
}

/**
 * The noise of pass `index`: the same values as the index-th array of gaussianArrays(count, size, σ,
 * uniformRandom(seed)), found without drawing the passes before it.
 */
export function noiseOfPass(seed: number, index: number, size: number, sigma: number): Float32Array {
  return gaussianArray(size, sigma, uniformRandomFrom(seed, index * drawsPerSample(size)));
}

function points(job: GradientJob, start: number, n: number): { points: tf.Tensor4D; weights?: tf.Tensor4D } {
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
 * The sums over passes [start, start+n) as [1,h,w,c] tensors: Σ wₖ gₖ (wₖ = 1 for noise jobs), and Σ gₖ²
 * when the job asks for squares.
 */
export function chunkSums(model: LoadedModel, job: GradientJob, start: number, n: number): tf.Tensor4D[] {
  return tf.tidy(() => {
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
