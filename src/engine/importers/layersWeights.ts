/** Finds a Keras layer's weights in a TF.js weight map, whatever prefixes or suffixes the converter added. */
import type * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';

interface Candidate {
  full: string;
  segments: string[];
}

/**
 * The weights of a layers model, looked up by (layer name, weight name). Manifest names look like
 * `conv2d_1/kernel`, but nested models, name scopes and TF variable suffixes give
 * `model/conv2d_1/kernel`, `conv2d_1/kernel:0` or `conv2d_1/conv2d_1/kernel`.
 */
export class LayerWeights {
  private readonly byLastSegment = new Map<string, Candidate[]>();
  private readonly used = new Set<string>();

  constructor(private readonly subject: string, private readonly tensors: Map<string, tf.Tensor>) {
    for (const full of tensors.keys()) {
      const segments = full.replace(/:\d+$/, '').split('/');
      const last = segments[segments.length - 1];
      const list = this.byLastSegment.get(last) ?? [];
      list.push({ full, segments });
      this.byLastSegment.set(last, list);
    }
  }

  /** The weight `weightName` of layer `layerName`, or undefined. Marks it as used (owned by a node). */
  find(layerName: string, weightName: string): tf.Tensor | undefined {
    const full = this.lookup(layerName, weightName);
    if (full === undefined) return undefined;
    this.used.add(full);
    return this.tensors.get(full);
  }

  /** Like find, without taking ownership: for weights only read to derive other tensors. */
  peek(layerName: string, weightName: string): tf.Tensor | undefined {
    const full = this.lookup(layerName, weightName);
    return full === undefined ? undefined : this.tensors.get(full);
  }

  private lookup(layerName: string, weightName: string): string | undefined {
    const all = this.byLastSegment.get(weightName) ?? [];
    let matches = all.filter((c) => c.segments.slice(0, -1).includes(layerName));
    if (matches.length > 1) {
      const direct = matches.filter((c) => c.segments[c.segments.length - 2] === layerName);
      if (direct.length > 0) matches = direct;
    }
    if (matches.length > 1) {
      // Shortest path first: the unscoped name is the one the layer owns, longer ones belong to nested copies.
      matches.sort((a, b) => a.segments.length - b.segments.length);
      if (matches[0].segments.length === matches[1].segments.length) {
        throw new BadInputError(this.subject,
          `weight ${weightName} of layer "${layerName}" is ambiguous in the manifest (${matches.map((m) => m.full).join(', ')})`);
      }
    }
    return matches[0]?.full;
  }

  /** Like find, but a missing weight is an error naming the layer. */
  require(layerName: string, className: string, weightName: string): tf.Tensor {
    const t = this.find(layerName, weightName);
    if (!t) {
      throw new BadInputError(this.subject,
        `weight "${weightName}" of layer "${layerName}" (${className}) is not in the weights manifest`);
    }
    return t;
  }

  /** Frees the weights that no node took (optimizer slots, derived-from sources, unused layers). */
  disposeUnused(): void {
    for (const [name, t] of this.tensors) if (!this.used.has(name)) t.dispose();
  }

  /** Frees every weight (after a failed import). */
  disposeAll(): void {
    for (const t of this.tensors.values()) t.dispose();
  }
}
