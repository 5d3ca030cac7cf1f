/**
 * Caches the flipped, in/out-swapped sub-kernels that conv input gradients use, per weight tensor:
 * re-gathering a 3×3×256×512 kernel costs ~9 ms on wasm, every backward pass. Entries are keyed by
 * the weight's data (so reshaped views share them) and dropped once that weight is disposed.
 */
import * as tf from '@tensorflow/tfjs-core';

interface Entry {
  /** A tensor holding the weight's data; when it is disposed the entry is stale. */
  source: tf.Tensor;
  subs: Map<string, tf.Tensor4D>;
}

const cache = new Map<object, Entry>();
let enabled = true;

/** Turns caching on or off (off frees everything cached). */
export function setKernelCacheEnabled(on: boolean): void {
  enabled = on;
  if (!on) clearKernelCache();
}

/** Frees every cached sub-kernel (e.g. after unloading a model). */
export function clearKernelCache(): void {
  for (const e of cache.values()) for (const t of e.subs.values()) t.dispose();
  cache.clear();
}

/** The number of cached sub-kernel tensors (for tests and memory accounting). */
export function kernelCacheSize(): number {
  let n = 0;
  for (const e of cache.values()) n += e.subs.size;
  return n;
}

function sweep(): void {
  for (const [key, e] of cache) {
    if (!e.source.isDisposed) continue;
    for (const t of e.subs.values()) t.dispose();
    cache.delete(key);
  }
}

/**
 * Returns the sub-kernel of `kernel` for these taps (made by `make` on a miss). A cached tensor is
 * owned by the cache: callers must not dispose it, and it survives enclosing tidy scopes.
 */
export function subKernel(
  kernel: tf.Tensor4D, hTaps: number[], wTaps: number[], swap: boolean, make: () => tf.Tensor4D,
): tf.Tensor4D {
  // Variables change value under the same data; never cache them.
  if (!enabled || kernel instanceof tf.Variable) return make();
  const key = `${kernel.shape.join('x')}|${hTaps.join(',')}|${wTaps.join(',')}|${swap ? 1 : 0}`;
  let entry = cache.get(kernel.dataId);
  // The data outlives any one tensor object (reshaped views share it): track a live holder.
  if (entry) entry.source = kernel;
  const hit = entry?.subs.get(key);
  if (hit && !hit.isDisposed) return hit;
  sweep();
  if (!entry) {
    entry = { source: kernel, subs: new Map() };
    cache.set(kernel.dataId, entry);
  }
  const made = tf.keep(make());
  entry.subs.set(key, made);
  return made;
}
