/** Integrated Gradients (Sundararajan et al. 2017) with Captum-compatible quadrature and several baselines. */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import { BASELINES, type BaselineName, type FaithfulnessMetrics } from '../../shared/protocol';
import type { LoadedModel } from '../model';
import { runGradientJob } from './chunkRunner';
import { jobInput, type GradientJob } from './gradientJob';
import type { MethodContext } from './index';
import { batchOption, intOption, uniformRandom } from './sampling';

/** Default number of points where gradients are evaluated (Captum's n_steps). */
export const DEFAULT_STEPS = 50;

/** Points α in [0,1] and weights of a quadrature rule over [0,1]. */
export interface Quadrature {
  alphas: number[];
  weights: number[];
}

/** Captum's riemann_trapezoid: N points from 0 to 1 inclusive, step 1/(N−1), halved at both ends. */
export function trapezoidRule(n: number): Quadrature {
  if (n < 2) return { alphas: [1], weights: [1] };
  const h = 1 / (n - 1);
  const alphas = Array.from({ length: n }, (_, i) => i * h);
  const weights = alphas.map((_, i) => (i === 0 || i === n - 1 ? h / 2 : h));
  return { alphas, weights };
}

/** Gauss–Legendre nodes and weights mapped to [0,1] (Newton's iteration on the Legendre polynomial). */
export function gaussLegendreRule(n: number): Quadrature {
  const alphas: number[] = [];
  const weights: number[] = [];
  for (let i = 1; i <= n; i++) {
    let z = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let derivative = 1;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = z;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * z * p1 - (k - 1) * p0) / k];
      const pn = n === 1 ? z : p1;
      const pnm1 = n === 1 ? 1 : p0;
      derivative = (n * (z * pn - pnm1)) / (z * z - 1);
      const dz = pn / derivative;
      z -= dz;
      if (Math.abs(dz) < 1e-15) break;
    }
    alphas.push((1 - z) / 2);
    weights.push(1 / ((1 - z * z) * derivative * derivative));
  }
  return { alphas, weights };
}

function gaussianBlur(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w, c] = x.shape;
    const sigma = Math.max(1, (5 * Math.min(h, w)) / 224);
    const radius = Math.ceil(3 * sigma);
    const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
    const total = taps.reduce((a, b) => a + b, 0);
    const k1 = taps.map((t) => t / total);
    const kRow = tf.tile(tf.reshape(tf.tensor1d(k1), [1, k1.length, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const kCol = tf.tile(tf.reshape(tf.tensor1d(k1), [k1.length, 1, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    // Edge padding keeps the border from fading towards zero.
    const padded = tf.mirrorPad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], 'symmetric') as tf.Tensor4D;
    return tf.depthwiseConv2d(tf.depthwiseConv2d(padded, kRow, 1, 'valid'), kCol, 1, 'valid');
  });
}

/** The baseline image x₀ in preprocessed space. */
export function makeBaseline(kind: BaselineName, x: tf.Tensor4D, ctx: MethodContext): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  switch (kind) {
    case 'zero':
      return tf.zerosLike(x);
    case 'black':
    case 'white': {
      const value = ctx.pixelToInput?.(kind === 'black' ? 0 : 255);
      if (!value) throw new BadInputError('--baseline', `${kind} needs the model's preprocessing`);
      return tf.tidy(() => tf.tile(tf.reshape(tf.tensor1d(value), [1, 1, 1, c]), [1, h, w, 1]) as tf.Tensor4D);
    }
    case 'blur':
      return gaussianBlur(x);
    case 'uniform': {
      const lo = ctx.pixelToInput?.(0) ?? new Float32Array(c).fill(0);
      const hi = ctx.pixelToInput?.(255) ?? new Float32Array(c).fill(1);
      const rand = uniformRandom((ctx.options?.seed ?? 0) + 1);
      const values = new Float32Array(h * w * c);
      for (let i = 0; i < values.length; i++) values[i] = lo[i % c] + (hi[i % c] - lo[i % c]) * rand();
      return tf.tensor4d(values, [1, h, w, c]);
    }
  }
}

/** Parses a baseline name. */
export function parseBaseline(value: string | undefined): BaselineName | undefined {
  if (value === undefined) return undefined;
  if ((BASELINES as readonly string[]).includes(value)) return value as BaselineName;
  throw new BadInputError('--baseline', `"${value}" is not one of ${BASELINES.join(', ')}`);
}

function targetScore(model: LoadedModel, x: tf.Tensor4D, target: number): number {
  return tf.tidy(() => model.logits(x, { release: true }).dataSync()[target]);
}

/** Attribution (x − x₀) ⊙ Σᵢ wᵢ ∇f(x₀ + αᵢ(x − x₀)) and its completeness gap. */
export async function integratedGradients(model: LoadedModel, x: tf.Tensor4D, targets: number[], ctx: MethodContext): Promise<{ attribution: tf.Tensor4D; completeness: NonNullable<FaithfulnessMetrics['completeness']> }> {
  if (x.shape[0] !== 1) throw new Error('multi-pass methods explain one image at a time');
  const o = ctx.options ?? {};
  const steps = intOption(o.steps, '--steps', 2, 10000, DEFAULT_STEPS);
  const batch = batchOption(ctx, model, 'gradient');
  const rule = o.integration === 'gauss-legendre' ? gaussLegendreRule(steps) : trapezoidRule(steps);
  const target = targets[0];
  const baseline = makeBaseline(o.baseline ?? 'zero', x, ctx);
  let attribution: tf.Tensor4D | undefined;
  try {
    const job: GradientJob = {
      kind: 'path', baseline: baseline.dataSync() as Float32Array, alphas: rule.alphas, weights: rule.weights,
      ...jobInput(x, target, steps),
    };
    const [total] = await runGradientJob(model, job, batch, ctx, 'Integrated Gradients step');
    const map = tf.tidy(() => tf.mul(tf.sub(x, baseline), total) as tf.Tensor4D);
    attribution = map;
    total.dispose();
    const attributionSum = tf.tidy(() => tf.sum(map).dataSync()[0]);
    const delta = targetScore(model, x, target) - targetScore(model, baseline, target);
    const gap = Math.abs(attributionSum - delta) / Math.max(Math.abs(delta), 1e-12);
    return { attribution: map, completeness: { sum: attributionSum, delta, gap } };
  } catch (err) {
    attribution?.dispose();
    throw err;
  } finally {
    baseline.dispose();
  }
}
