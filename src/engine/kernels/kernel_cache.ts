/**
 * Caches the flipped, in/out-swapped sub-kernels that conv input gradients use, per weight tensor:
 * re-gathering a 3×3×256×512 kernel costs ~9 ms on wasm, every backward pass. Entries are keyed by
 * the weight's data (so reshaped views and the clones a tape saves share them) and dropped once no
 * tensor holds that data any more.
 */
import * as tf from '@tensorflow/tfjs-core';

interface Entry {
  subs: Map<string, tf.Tensor>;
}

const cache = new Map<object, Entry>();

interface EngineState {
  state?: { tensorInfo?: { has(dataId: object): boolean } };
}

/** Whether any tensor still holds this data (the engine forgets a dataId when its last tensor goes). */
function dataAlive(dataId: object): boolean {
  const info = (tf.engine() as unknown as EngineState).state?.tensorInfo;
  return info ? info.has(dataId) : true;
}
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

/**
 * Bytes of the sub-kernels cached for these (distinct) weights, and of those cached for them in turn (a padded
 * copy of a strided conv's phase kernel): what a second copy of a model adds to its weights.
 */
export function subKernelBytes(weights: Iterable<tf.Tensor>): number {
  let bytes = 0;
  const pending = [...weights].map((w) => w.dataId);
  const seen = new Set<object>(pending);
  while (pending.length) {
    for (const t of cache.get(pending.pop()!)?.subs.values() ?? []) {
      bytes += t.size * 4;
      if (!seen.has(t.dataId)) {
        seen.add(t.dataId);
        pending.push(t.dataId);
      }
    }
  }
  return bytes;
}

function sweep(): void {
  for (const [key, e] of cache) {
    if (dataAlive(key)) continue;
    for (const t of e.subs.values()) t.dispose();
    cache.delete(key);
  }
}

/** The cached `variant` of `kernel` (made by `make` on a miss); owned by the cache: never dispose it. */
export function subKernel<T extends tf.Tensor>(kernel: tf.Tensor, variant: string, make: () => T): T {
  // Variables change value under the same data; never cache them.
  if (!enabled || kernel instanceof tf.Variable) return make();
  const key = `${kernel.shape.join('x')}|${variant}`;
  let entry = cache.get(kernel.dataId);
  const hit = entry?.subs.get(key);
  if (hit && !hit.isDisposed) return hit as T;
  sweep();
  if (!entry) {
    entry = { subs: new Map() };
    cache.set(kernel.dataId, entry);
  }
  const made = tf.keep(make());
  entry.subs.set(key, made);
  return made;
}
