/** Node emission and static shape tracking shared by the Keras layer converters. */
import type * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import type { AttrValue, GraphInput, GraphNode, OpType } from '../graph/ir';
import { type KerasFlavour, kerasActivation } from './layersActivations';
import type { LayerWeights } from './layersWeights';

/** A static shape with the batch first; null where unknown. */
export type Shape = (number | null)[];

/** One Keras layer as written in the topology. */
export interface LayerSpec {
  className: string;
  name: string;
  config: Record<string, unknown>;
}

/** Collects the nodes of a layers model while the topology is walked. */
export class LayersGraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly notes: string[] = [];
  input: GraphInput | null = null;
  private readonly shapes = new Map<string, Shape>();

  constructor(readonly subject: string, readonly weights: LayerWeights, readonly flavour: KerasFlavour) {}

  /** A BadInputError about this model file. */
  fail(problem: string): never {
    throw new BadInputError(this.subject, problem);
  }

  /** Declares the single image input from a layer's batch shape. */
  createInput(name: string, batchShape: unknown): string {
    if (this.input) this.fail(`model has more than one input ("${this.input.name}", "${name}"); only single-input models are supported`);
    if (!Array.isArray(batchShape) || batchShape.length < 2) this.fail(`input "${name}" has no usable batch_input_shape`);
    const shape: Shape = (batchShape as unknown[]).map((d) => (typeof d === 'number' && d > 0 ? d : null));
    shape[0] = null;
    const channels = shape[shape.length - 1];
    if (channels === null) this.fail(`input "${name}" has an unknown channel count`);
    const spatial = shape.length === 4;
    this.input = { name: this.unique(name), height: spatial ? shape[1] : null, width: spatial ? shape[2] : null, channels, sourceLayout: 'NHWC' };
    if (!spatial) this.notes.push(`input "${name}" has rank ${shape.length}, not an image batch`);
    else if (shape[1] === null || shape[2] === null) this.notes.push('input has a dynamic spatial size');
    this.shapes.set(this.input.name, shape);
    return this.input.name;
  }

  /** The static shape of a tensor produced so far. */
  shapeOf(name: string): Shape {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`internal: no shape for ${name}`);
    return s;
  }

  /** `base`, or `base_2`, `base_3`... if a node of that name exists already. */
  unique(base: string): string {
    if (!this.shapes.has(base)) return base;
    for (let k = 2; ; k++) if (!this.shapes.has(`${base}_${k}`)) return `${base}_${k}`;
  }

  /** Appends a node and records its output shape; returns its (unique) name. */
  emit(name: string, op: OpType, inputs: string[], shape: Shape, layer: LayerSpec,
    attrs: Record<string, AttrValue> = {}, weights: Record<string, tf.Tensor> = {}): string {
    const unique = this.unique(name);
    const node: GraphNode = { name: unique, op, inputs, attrs, weights, sourceOp: layer.className };
    if (unique !== layer.name) node.sourceName = layer.name;
    this.nodes.push(node);
    this.shapes.set(unique, shape);
    return unique;
  }

  /**
   * Emits a layer's core op and its fused `activation` as a separate node. The node producing the layer's
   * output carries `outName`; a pre-activation node is named `outName/preact`.
   */
  emitWithActivation(outName: string, op: OpType, inputs: string[], shape: Shape, layer: LayerSpec,
    attrs: Record<string, AttrValue> = {}, weights: Record<string, tf.Tensor> = {}): string {
    const act = kerasActivation(layer.config.activation, this.flavour);
    if (act === undefined) this.fail(`unsupported activation ${JSON.stringify(layer.config.activation)} in layer "${layer.name}" (${layer.className})`);
    if (act === null) return this.emit(outName, op, inputs, shape, layer, attrs, weights);
    const final = this.unique(outName);
    const pre = this.emit(`${final}/preact`, op, inputs, shape, layer, attrs, weights);
    return this.emit(final, act.op, [pre], shape, layer, act.attrs);
  }

  /** A required weight of a layer. */
  weight(layer: LayerSpec, weightName: string): tf.Tensor {
    return this.weights.require(layer.name, layer.className, weightName);
  }

  /** An optional weight of a layer (bias when use_bias, BN gamma when scale...). */
  optionalWeight(layer: LayerSpec, weightName: string, wanted: boolean): tf.Tensor | undefined {
    if (!wanted) return undefined;
    return this.weight(layer, weightName);
  }
}

/** Output size of a convolution or pooling window along one axis. */
export function windowOutput(size: number | null, k: number, s: number, d: number, padding: string): number | null {
  if (size === null) return null;
  if (padding === 'same') return Math.ceil(size / s);
  return Math.floor((size - d * (k - 1) - 1) / s) + 1;
}

/** Numpy-style broadcast of static shapes (unknown dims stay unknown unless the other side fixes them). */
export function broadcastShapes(shapes: Shape[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let dim: number | null = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (d === null) {
        if (dim === 1) dim = null;
        continue;
      }
      dim = d;
    }
    out.push(dim);
  }
  if (rank > 0) out[0] = null;
  return out;
}
