/** Seeded random numbers and batched loops shared by the multi-pass methods. */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import type { MethodContext } from './index';
import type { LoadedModel } from '../model';
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

/** Checks an integer option. */
export function intOption(value: number | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new BadInputError(name, `must be an integer from ${min} to ${max} (got ${value})`);
  return value;
}

/** The internal batch size of multi-pass loops that are not sized automatically. */
export const DEFAULT_BATCH = 16;

/**
 * Peak bytes of live tensors one automatic batch may add. The engine's peak RSS is meant to stay under
 * 1 GB on ResNet-18-sized models: Node, TF.js and the weights (with their cached flipped copies) take
 * ~300 MB, and the wasm heap never shrinks and fragments by ~20–30% over its live tensors across runs.
 * A gradient pass keeps every forward value its backward needs and every intermediate gradient until it
 * ends: 55–85 MB per 224×224 image (ResNet-18, MobileNetV2, darknet-tiny), so 4–6 images fit.
 */
export const BATCH_MEMORY_BUDGET = 384 * 2 ** 20;

/**
 * The largest automatic batch. Per image on wasm, gradients at batch 8 cost the same as at 16, at batch 4
 * ≤7% more and at batch 1 up to 60% more (ResNet-18 240/256/299 ms; MobileNetV2 and darknet-tiny flat
 * from batch 2): beyond 8 a batch buys nothing but memory and first-touch page faults of a grown heap.
 */
export const MAX_AUTO_BATCH = 8;

/**
 * Below this many bytes per image a pass is so short that TF.js's per-op dispatch dominates it, and bigger
 * batches keep paying: the demo model's SmoothGrad (64×64, ~2 MB per image) took 50–61 ms in batches of 8 and
 * 36–37 ms in one batch of 25. Such models get batches of up to MAX_SMALL_BATCH.
 */
export const SMALL_IMAGE_BYTES = 8 * 2 ** 20;
/** The largest automatic batch for images under SMALL_IMAGE_BYTES. */
export const MAX_SMALL_BATCH = 32;

/** The batch size of the first automatic batch of a model, while its memory per pass is unknown. */
const PROBE_BATCH = 2;

/** An automatic batch size: as large as the memory budget allows for passes of this kind on this model. */
export interface AutoBatch {
  model: LoadedModel;
  /** The kind of pass (e.g. 'gradient', 'guided', 'forward'): memory per image differs between them. */
  pass: string;
  /** Peak tensor bytes a batch may add (default BATCH_MEMORY_BUDGET). */
  budget?: number;
  /** The largest batch (default MAX_AUTO_BATCH, MAX_SMALL_BATCH for small images). */
  max?: number;
}

interface Measured {
  images: number;
  bytes: number;
}

/** Per model and kind of pass, the peak tensor bytes measured for the largest batch seen. */
const measured = new WeakMap<LoadedModel, Map<string, Measured>>();

/** The peak bytes per image measured for a kind of pass on a model (undefined before its first batch). */
export function bytesPerImage(model: LoadedModel, pass: string): number | undefined {
  const m = measured.get(model)?.get(pass);
  return m ? m.bytes / m.images : undefined;
}

/** The batch size the budget allows for a kind of pass on a model. */
export function autoBatchSize({ model, pass, budget = BATCH_MEMORY_BUDGET, max }: AutoBatch): number {
  const perImage = bytesPerImage(model, pass);
  if (perImage === undefined) return Math.min(PROBE_BATCH, max ?? MAX_AUTO_BATCH);
  const cap = max ?? (perImage < SMALL_IMAGE_BYTES ? MAX_SMALL_BATCH : MAX_AUTO_BATCH);
  return Math.max(1, Math.min(cap, Math.floor(budget / Math.max(perImage, 1))));
}

function record(model: LoadedModel, pass: string, images: number, bytes: number): void {
  let byPass = measured.get(model);
  if (!byPass) measured.set(model, (byPass = new Map()));
  const old = byPass.get(pass);
  // bytes/images overestimates by the fixed part over the batch, least so for the largest batch.
  if (!old || images >= old.images) byPass.set(pass, { images, bytes: Math.max(0, bytes) });
}

/** Whether tf.profile is running (it does not nest: an inner profile would end the outer one). */
function profiling(): boolean {
  return (tf.engine() as unknown as { state: { profiling?: boolean } }).state.profiling === true;
}

/** Runs one automatic batch of `images` and records its peak tensor bytes. */
export async function measuredStep(batch: AutoBatch, images: number, run: () => void): Promise<void> {
  if (profiling()) {
    run();
    return;
  }
  const before = tf.memory().numBytes;
  // Kernel variants cached during the step stay with the model: they are not the batch's to pay for.
  const resident = batch.model.residentBytes();
  let failure: { error: unknown } | undefined;
  // A throw inside tf.profile would leave the engine profiling every later kernel.
  const profile = await tf.profile(() => {
    try {
      run();
    } catch (error) {
      failure = { error };
    }
  });
  if (failure) throw failure.error;
  record(batch.model, batch.pass, images, profile.peakBytes - before - (batch.model.residentBytes() - resident));
}

/**
 * Runs `count` passes in batches: `step(start, size)` handles passes [start, start+size). `batch` is a
 * fixed size, or automatic: each batch's peak tensor memory is measured and the next batches are as large
 * as the memory budget allows (balanced, so no tiny last batch). Reports progress and awaits the
 * cancellation checkpoint between batches, so memory stays bounded by one batch and a cancel takes effect
 * within one batch.
 */
export async function inBatches(count: number, batch: number | AutoBatch, ctx: MethodContext, label: string,
  step: (start: number, size: number) => void): Promise<void> {
  for (let start = 0; start < count;) {
    const left = count - start;
    const first = start;
    const n = typeof batch === 'number'
      ? Math.min(Math.max(1, Math.floor(batch)), left)
      : Math.ceil(left / Math.ceil(left / autoBatchSize(batch)));
    if (typeof batch === 'number') step(first, n);
    else await measuredStep(batch, n, () => step(first, n));
    start += n;
    ctx.onProgress?.(Math.min(1, start / count), `${label} ${start}/${count}`);
    await ctx.checkpoint?.();
  }
}

/** The batch option of a multi-pass method: the user's size (checked), else automatic for this kind of pass. */
export function batchOption(ctx: MethodContext, model: LoadedModel, pass: string, max?: number): number | AutoBatch {
  const batch = ctx.options?.batch;
  return batch === undefined ? { model, pass, max } : intOption(batch, '--batch', 1, 1024, DEFAULT_BATCH);
}
