/**
 * The state of one ONNX → IR conversion: the value table (activations with their ONNX shape and layout,
 * or load-time constants), the IR nodes emitted so far, naming, and the few layout changes ever needed.
 */
import { BadInputError } from '../../shared/errors';
import type { AttrValue, OpType } from '../graph/ir';
import { BATCH, constForLayout, transposeConst } from './onnxConst';
import { int64, type OnnxAttributeProto, type OnnxNodeProto } from './onnxSchema';
import { type ConstTensor, decodeTensor, type ExternalDataReader } from './onnxTensors';

/** One dimension of a tracked shape: a size, the (dynamic) batch size, or unknown. */
export type Dim = number | 'N' | null;

/**
 * A tensor computed at run time. `shape` is its ONNX (logical) shape; the IR tensor `ref` holds it with
 * axes permuted: internal axis i is ONNX axis perm[i] (4-D image tensors use [0,2,3,1], i.e. NHWC).
 */
export interface Activation {
  kind: 'act';
  ref: string;
  shape: Dim[];
  perm: number[];
}

/** A tensor known at load time (weights, folded shape computations), in ONNX layout. */
export interface Constant {
  kind: 'const';
  t: ConstTensor;
}

/** What an ONNX value name stands for during conversion. */
export type Value = Activation | Constant;

/** Weights of an IR node before they become TF.js tensors. */
export interface WeightData {
  data: Float32Array;
  shape: number[];
}

/** An IR node under construction (weights still plain arrays). */
export interface PendingNode {
  name: string;
  op: OpType;
  inputs: string[];
  attrs: Record<string, AttrValue>;
  weights: Record<string, WeightData>;
  sourceOp: string;
  sourceName?: string;
}

/** The layout of 4-D image activations: internal NHWC holding ONNX NCHW. */
export const NHWC_PERM = [0, 2, 3, 1];

/** The identity permutation of a rank. */
export function identityPerm(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

/** Whether a permutation is the identity. */
export function isIdentity(perm: readonly number[]): boolean {
  return perm.every((p, i) => p === i);
}

/** The internal (IR) shape of an activation. */
export function internalShape(a: Activation): Dim[] {
  return a.perm.map((p) => a.shape[p]);
}

/** The product of dims: 'N' times ones stays 'N'; anything else involving N or unknowns is unknown. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let n = 1;
  let batch = 0;
  for (const d of dims) {
    if (d === null) return null;
    if (d === 'N') batch++;
    else n *= d;
  }
  if (batch === 0) return n;
  return batch === 1 && n === 1 ? 'N' : null;
}

/** Converts dims to an IR reshape shape: unknown sizes become -1 (at most one allowed). */
export function reshapeTarget(dims: readonly Dim[]): number[] | null {
  const out = dims.map((d) => (typeof d === 'number' ? d : -1));
  return out.filter((d) => d === -1).length > 1 ? null : out;
}

/** Typed access to a node's attributes. */
export class Attrs {
  private readonly byName = new Map<string, OnnxAttributeProto>();

  constructor(attrs: OnnxAttributeProto[]) {
    for (const a of attrs) this.byName.set(a.name, a);
  }

  /** Whether the attribute is present. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** An INT attribute. */
  int(name: string, fallback: number): number {
    const a = this.byName.get(name);
    return a ? int64(a.i) : fallback;
  }

  /** A FLOAT attribute. */
  float(name: string, fallback: number): number {
    const a = this.byName.get(name);
    if (!a) return fallback;
    // Some writers store integral values of float attributes as INT.
    return a.type === 2 ? int64(a.i) : a.f;
  }

  /** An INTS attribute. */
  ints(name: string): number[] | undefined {
    const a = this.byName.get(name);
    return a ? a.ints.map(int64) : undefined;
  }

  /** A FLOATS attribute. */
  floats(name: string): number[] | undefined {
    const a = this.byName.get(name);
    return a ? [...a.floats] : undefined;
  }

  /** A STRING attribute. */
  string(name: string, fallback: string): string {
    const a = this.byName.get(name);
    return a ? new TextDecoder().decode(a.s) : fallback;
  }

  /** The raw attribute (for TENSOR values). */
  raw(name: string): OnnxAttributeProto | undefined {
    return this.byName.get(name);
  }
}

/** Conversion state shared by the op converters. */
export class OnnxConverter {
  readonly nodes: PendingNode[] = [];
  readonly values = new Map<string, Value>();
  readonly notes: string[] = [];
  /** How many nodes (and graph outputs) consume each ONNX value. */
  readonly consumers = new Map<string, number>();
  /** The batch size the model was exported with when it is static (it is still treated as dynamic). */
  staticBatch: number | null = null;
  private readonly names = new Set<string>();
  private readonly layoutCache = new Map<string, string>();
  private current: OnnxNodeProto | undefined;
  private currentName = '';

  constructor(readonly modelPath: string, readonly opset: number, readonly external: ExternalDataReader | undefined) {}

  /** Starts converting a node: errors and emitted nodes are named after it. */
  begin(node: OnnxNodeProto): void {
    this.current = node;
    this.currentName = node.name || node.output.find((o) => o) || node.opType;
  }

  /** Ends node conversion: later errors are about the graph, later auxiliary nodes are named after `name`. */
  beginGraphLevel(name: string): void {
    this.current = undefined;
    this.currentName = name;
  }

  /** The ONNX node being converted. */
  get node(): OnnxNodeProto {
    return this.current!;
  }

  /** The user-facing name of the node being converted. */
  get nodeName(): string {
    return this.currentName;
  }

  /** Throws a one-line BadInputError about the current node. */
  fail(problem: string): never {
    const n = this.current;
    const where = n ? `node "${this.currentName}" (${n.opType}, opset ${this.opset}): ` : '';
    throw new BadInputError(this.modelPath, `${where}${problem}`);
  }

  /** Reserves a unique IR name based on `base`. */
  reserve(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Appends an IR node; `suffix` names an auxiliary node after the current ONNX node. Returns its name. */
  emit(op: OpType, inputs: string[], attrs: Record<string, AttrValue> = {}, weights: Record<string, WeightData> = {},
    suffix?: string): string {
    const name = this.reserve(suffix ? `${this.currentName}/${suffix}` : this.currentName);
    const sourceOp = this.current?.opType ?? op;
    this.nodes.push({ name, op, inputs, attrs, weights, sourceOp });
    return name;
  }

  /** The value of input i of the current node, or undefined when absent (or given as ''). */
  input(i: number): Value | undefined {
    const name = this.node.input[i];
    if (!name) return undefined;
    const v = this.values.get(name);
    if (!v) this.fail(`input "${name}" is not produced by any earlier node, initializer or graph input`);
    return v;
  }

  /** Input i, required to be a run-time activation. */
  act(i: number): Activation {
    const v = this.input(i);
    if (!v) this.fail(`input ${i} is missing`);
    if (v.kind !== 'act') this.fail(`input ${i} is a constant where an activation was expected`);
    return v;
  }

  /** Input i, required to be a load-time constant (or undefined when absent). */
  constant(i: number, what: string): ConstTensor | undefined {
    const v = this.input(i);
    if (!v) return undefined;
    if (v.kind !== 'const') this.fail(`${what} must be a constant known at load time`);
    return v.t;
  }

  /** Integer values of constant input i; a batch-size marker is replaced by 1 with a note. */
  ints(i: number, what: string): number[] | undefined {
    const t = this.constant(i, what);
    return t ? this.batchFree(Array.from(t.data), what) : undefined;
  }

  /** Replaces batch markers (from a dynamic batch) by 1, noting that the graph now assumes batch 1. */
  batchFree(values: number[], what: string): number[] {
    if (!values.includes(BATCH)) return values;
    this.notes.push(`${this.currentName}: ${what} depends on the batch size; batch size 1 assumed`);
    return values.map((v) => (v === BATCH ? 1 : v));
  }

  /** Sets output i of the current node. */
  output(v: Value, i = 0): void {
    const name = this.node.output[i];
    if (name) this.values.set(name, v);
  }

  /** Fails when an optional output that we do not compute is consumed. */
  requireUnused(i: number, what: string): void {
    const name = this.node.output[i];
    if (name && (this.consumers.get(name) ?? 0) > 0) this.fail(`its ${what} output is not supported`);
  }

  /** Decodes a TensorProto attribute/initializer. */
  tensor(t: Parameters<typeof decodeTensor>[0]): ConstTensor {
    return decodeTensor(t, this.modelPath, this.external);
  }

  /** An IR tensor holding `a` with the given permutation, inserting one transpose if needed (cached). */
  withPerm(a: Activation, perm: readonly number[]): string {
    if (a.perm.every((p, i) => p === perm[i])) return a.ref;
    // The same IR tensor can stand for several values (a Transpose only changes the recorded layout).
    const key = `${a.ref}|${a.perm.join(',')}|${perm.join(',')}`;
    const hit = this.layoutCache.get(key);
    if (hit) return hit;
    // internal axis j of the result must hold ONNX axis perm[j], found at internal axis a.perm.indexOf(perm[j]).
    const tfPerm = perm.map((p) => a.perm.indexOf(p));
    const suffix = isIdentity(perm) ? 'to_source_layout' : perm.join('') === '0231' ? 'to_nhwc' : 'transpose';
    const ref = this.emit('transpose', [a.ref], { perm: tfPerm }, {}, suffix);
    this.layoutCache.set(key, ref);
    return ref;
  }

  /** `a` as an NHWC 4-D IR tensor. */
  nhwc(a: Activation): string {
    if (a.shape.length !== 4) this.fail(`expected a 4-D (NCHW) input, got rank ${a.shape.length}`);
    return this.withPerm(a, NHWC_PERM);
  }

  /**
   * `a` as an IR tensor whose row-major element order is the ONNX one (what reshapes need). A layout
   * that only moves size-1 axes already has that order, so no transpose is inserted for it.
   */
  sourceOrder(a: Activation): string {
    const moved = a.perm.filter((p) => a.shape[p] !== 1);
    if (moved.every((p, i) => i === 0 || p > moved[i - 1])) return a.ref;
    return this.withPerm(a, identityPerm(a.shape.length));
  }

  /** Emits a const node holding `t` laid out to broadcast against an activation of `rank` with `perm`. */
  constFor(t: ConstTensor, rank: number, perm: readonly number[], suffix: string): string {
    const laid = constForLayout(t, rank, perm);
    if (!laid) this.fail(`a constant of rank ${t.dims.length} cannot broadcast against a rank-${rank} activation`);
    return this.emit('const', [], {}, { value: floatWeight(laid) }, suffix);
  }

  /** Emits a const node holding `t` transposed to `perm` (same rank). */
  constPermuted(t: ConstTensor, perm: readonly number[], suffix: string): string {
    return this.emit('const', [], {}, { value: floatWeight(transposeConst(t, perm)) }, suffix);
  }

  /** A new activation value produced by IR node `ref`. */
  static act(ref: string, shape: Dim[], perm: number[]): Activation {
    return { kind: 'act', ref, shape, perm };
  }
}

/** A constant as IR weight data (float32). */
export function floatWeight(t: ConstTensor): WeightData {
  return { data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data), shape: [...t.dims] };
}
