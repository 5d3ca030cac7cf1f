/** Seeded random numbers and batched loops shared by the multi-pass methods. */
import * as tf from '@tensorflow/tfjs-core';
import type { MethodContext } from './index';
import { uniformRandom } from '../../shared/random';

export { uniformRandom };

/** Fills an array with N(0, sigma²) samples (Box–Muller) from a seeded generator. */
export function gaussianArray(size: number, sigma: number, rand: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand())) * sigma;
    const theta = 2 * Math.PI * rand();
    out[i] = r * Math.cos(theta);
    if (i + 1 < size) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** The default internal batch size of multi-pass methods. */
export const DEFAULT_BATCH = 16;

/**
 * Runs `count` passes in batches of at most `batch`: `step(start, size)` handles passes [start, start+size).
 * Reports progress and awaits the cancellation checkpoint between batches, so memory stays bounded by
 * one batch and a cancel takes effect within one batch.
 */
export async function inBatches(count: number, batch: number, ctx: MethodContext, label: string,
  step: (start: number, size: number) => void): Promise<void> {
  const size = Math.max(1, Math.floor(batch));
  for (let start = 0; start < count; start += size) {
    const n = Math.min(size, count - start);
    step(start, n);
    ctx.onProgress?.(Math.min(1, (start + n) / count), `${label} ${start + n}/${count}`);
    await ctx.checkpoint?.();
  }
}

/** Accumulates tensors into a kept running sum (the caller disposes it). */
export function accumulate(sum: tf.Tensor | null, add: tf.Tensor): tf.Tensor {
  if (!sum) return tf.keep(add);
  const next = tf.keep(tf.add(sum, add));
  sum.dispose();
  add.dispose();
  return next;
}
