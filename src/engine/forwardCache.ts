/**
 * Forward-pass results kept between requests on the same model and prepared input, so that switching the
 * target class or the method in the panel does not redo work: the logits (for predictions and the default
 * target) and the activations a CAM method feeds back into the graph at a layer.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ActivationStore } from './methods';

/** Bounds of a ForwardCache. */
export interface ForwardCacheLimits {
  /** Most entries kept (logits and each layer's activations count one each). */
  maxEntries: number;
  /** Most bytes of values kept. */
  maxBytes: number;
}

/** Enough for a few images × models × layers in the panel; activations at the usual CAM layers are < 1 MB. */
export const DEFAULT_FORWARD_CACHE_LIMITS: ForwardCacheLimits = { maxEntries: 64, maxBytes: 64 * 2 ** 20 };

interface Entry {
  logits?: Float32Array;
  /** Owned by the cache: disposed on eviction. Handed out only as clones. */
  tensors?: Map<string, tf.Tensor>;
  bytes: number;
}

function disposeEntry(entry: Entry): void {
  for (const t of entry.tensors?.values() ?? []) t.dispose();
}

/** A bounded LRU of logits and layer activations, keyed by model id, prepared-input key and layer. */
export class ForwardCache {
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;

  constructor(readonly limits: ForwardCacheLimits = DEFAULT_FORWARD_CACHE_LIMITS) {}

  /** Cached logits of a model on an input (the caller must not modify them). */
  logits(model: number, input: string): Float32Array | undefined {
    return this.touch(key(model, input, 'logits'))?.logits;
  }

  /** Stores the logits of a model on an input (copied). */
  putLogits(model: number, input: string, logits: Float32Array): void {
    this.put(key(model, input, 'logits'), { logits: Float32Array.from(logits), bytes: logits.byteLength });
  }

  /** The layer-activation store of one model and input, for MethodContext.activations. */
  activations(model: number, input: string): ActivationStore {
    const at = (layer: string): string => key(model, input, `layer\0${layer}`);
    return {
      has: (layer) => this.entries.has(at(layer)),
      get: (layer) => {
        const tensors = this.touch(at(layer))?.tensors;
        // Clones share the data but not the lifetime: an eviction cannot free what a request is using.
        return tensors && new Map([...tensors].map(([name, t]) => [name, t.clone()]));
      },
      put: (layer, tensors) => {
        let bytes = 0;
        for (const t of tensors.values()) bytes += t.size * 4;
        if (bytes > this.limits.maxBytes) return;
        this.put(at(layer), { tensors: new Map([...tensors].map(([name, t]) => [name, t.clone()])), bytes });
      },
    };
  }

  /** Drops every entry of a model (evicted or reloaded). */
  dropModel(model: number): void {
    const prefix = `${model}\0`;
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.delete(k);
  }

  /** Number of entries and bytes held. */
  stats(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.totalBytes };
  }

  /** Frees everything. */
  dispose(): void {
    for (const k of [...this.entries.keys()]) this.delete(k);
  }

  private touch(k: string): Entry | undefined {
    const entry = this.entries.get(k);
    if (entry) {
      this.entries.delete(k);
      this.entries.set(k, entry);
    }
    return entry;
  }

  private put(k: string, entry: Entry): void {
    if (this.limits.maxEntries < 1 || entry.bytes > this.limits.maxBytes) {
      disposeEntry(entry);
      return;
    }
    this.delete(k);
    this.entries.set(k, entry);
    this.totalBytes += entry.bytes;
    while (this.entries.size > this.limits.maxEntries || this.totalBytes > this.limits.maxBytes) {
      this.delete(this.entries.keys().next().value as string);
    }
  }

  private delete(k: string): void {
    const entry = this.entries.get(k);
    if (!entry) return;
    this.entries.delete(k);
    this.totalBytes -= entry.bytes;
    disposeEntry(entry);
  }
}

function key(model: number, input: string, what: string): string {
  return `${model}\0${input}\0${what}`;
}
