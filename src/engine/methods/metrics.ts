/**
 * Faithfulness of a map: deletion and insertion curves (Petsiuk et al. 2018, RISE) and the cascading
 * model-randomisation check (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FaithfulnessCurve, FaithfulnessMetrics } from '../../shared/protocol';
import { reduceChannels, resizeBilinear } from '../../shared/render';
import type { LoadedModel } from '../model';
import type { MethodContext } from './index';
import { makeBaseline } from './integratedGradients';
import { DEFAULT_BATCH, gaussianArray, inBatches, uniformRandom } from './sampling';

/** Number of steps of the deletion and insertion curves. */
export const CURVE_STEPS = 20;
/** At most this many layers are visited by the randomisation check (spread over the model, top first). */
export const RANDOMIZATION_LAYERS = 6;

/** A map [H*W] of non-negative importance at input resolution from any attribution tensor. */
export function importanceAtInput(attribution: tf.Tensor4D, height: number, width: number): Float32Array {
  const [, h, w, c] = attribution.shape;
  const reduced = reduceChannels(attribution.dataSync() as Float32Array, h, w, c, 'max-abs');
  return h === height && w === width ? reduced.data : resizeBilinear(reduced, width, height).data;
}

/** Area under a curve sampled at increasing fractions in [0,1] (trapezoid rule). */
export function areaUnderCurve(fractions: number[], scores: number[]): number {
  let area = 0;
  for (let i = 1; i < fractions.length; i++) area += ((scores[i] + scores[i - 1]) / 2) * (fractions[i] - fractions[i - 1]);
  return area;
}

async function curve(model: LoadedModel, start: tf.Tensor4D, finish: tf.Tensor4D, order: Int32Array, target: number, ctx: MethodContext): Promise<FaithfulnessCurve> {
  const [, H, W] = start.shape;
  const fractions = Array.from({ length: CURVE_STEPS + 1 }, (_, i) => i / CURVE_STEPS);
  const scores: number[] = [];
  await inBatches(fractions.length, ctx.options?.batch ?? DEFAULT_BATCH, {}, 'curve', (s, n) => {
    const masks = new Float32Array(n * H * W);
    for (let i = 0; i < n; i++) {
      const k = Math.round(fractions[s + i] * H * W);
      for (let j = 0; j < k; j++) masks[i * H * W + order[j]] = 1;
    }
    const probs = tf.tidy(() => {
      const m = tf.tensor4d(masks, [n, H, W, 1]);
      const images = tf.add(tf.mul(start, tf.sub(1, m)), tf.mul(finish, m)) as tf.Tensor4D;
      return model.probabilities(model.logits(images, { release: true })).dataSync();
    });
    for (let i = 0; i < n; i++) scores.push(probs[i * model.numClasses + target]);
  });
  await ctx.checkpoint?.();
  return { fractions, scores, auc: areaUnderCurve(fractions, scores) };
}

/** Deletion (salient pixels replaced by zeros first) and insertion (salient pixels added to a blurred image first). */
export async function deletionInsertion(model: LoadedModel, x: tf.Tensor4D, importance: Float32Array, target: number, ctx: MethodContext): Promise<Pick<FaithfulnessMetrics, 'deletion' | 'insertion'>> {
  const order = Int32Array.from(importance.keys()).sort((a, b) => importance[b] - importance[a]);
  const zeros = tf.zerosLike(x);
  const blurred = makeBaseline('blur', x, ctx);
  try {
    const deletion = await curve(model, x, zeros, order, target, ctx);
    const insertion = await curve(model, blurred, x, order, target, ctx);
    return { deletion, insertion };
  } finally {
    zeros.dispose();
    blurred.dispose();
  }
}

/** Ranks with ties averaged (for Spearman's correlation). */
export function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    for (let k = i; k <= j; k++) out[order[k]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation of two equally long arrays (0 when either is constant). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = ra.length;
  const mean = (n - 1) / 2;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (ra[i] - mean) * (rb[i] - mean);
    aa += (ra[i] - mean) ** 2;
    bb += (rb[i] - mean) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/**
 * Cascading randomisation: re-initialises the parametrised layers from the output down (weights drawn from
 * a Gaussian with each tensor's own standard deviation), recomputing the map after each visited layer, and
 * reports its Spearman correlation with the original map. The model's weights are restored afterwards.
 */
export async function randomizationCheck(model: LoadedModel, original: Float32Array, recompute: () => Promise<Float32Array>, ctx: MethodContext): Promise<NonNullable<FaithfulnessMetrics['randomization']>> {
  const ancestors = model.ancestorsOfLogits();
  const layers = model.graph.nodes.filter((n) => ancestors.has(n.name) && n.weights.kernel).reverse();
  const visitCount = Math.min(RANDOMIZATION_LAYERS, layers.length);
  const visits = new Set(Array.from({ length: visitCount }, (_, i) => Math.round((i * (layers.length - 1)) / Math.max(1, visitCount - 1))));
  const rand = uniformRandom((ctx.options?.seed ?? 0) + 7);
  const saved = new Map<string, Record<string, tf.Tensor>>();
  const out: Array<{ layer: string; spearman: number }> = [];
  try {
    for (let i = 0; i < layers.length; i++) {
      const node = layers[i];
      saved.set(node.name, node.weights);
      const replaced: Record<string, tf.Tensor> = {};
      for (const [key, w] of Object.entries(node.weights)) {
        const values = w.dataSync() as Float32Array;
        let sq = 0;
        for (const v of values) sq += v * v;
        const std = Math.sqrt(sq / Math.max(1, values.length)) || 0.01;
        replaced[key] = tf.tensor(gaussianArray(values.length, std, rand), w.shape);
      }
      node.weights = replaced;
      if (!visits.has(i)) continue;
      const map = await recompute();
      out.push({ layer: node.name, spearman: spearman(original, map) });
      ctx.onProgress?.((i + 1) / layers.length, `randomisation check: ${node.name}`);
      await ctx.checkpoint?.();
    }
  } finally {
    for (const node of layers) {
      const original = saved.get(node.name);
      if (!original) continue;
      for (const w of Object.values(node.weights)) w.dispose();
      node.weights = original;
    }
  }
  return out;
}
