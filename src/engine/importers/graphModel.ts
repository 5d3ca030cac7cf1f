/** Imports a TF.js Graph model (`format: graph-model`, a GraphDef in JSON + weight shards) into the internal graph. */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import { type AttrValue, type Graph, type GraphInput, type GraphNode, type OpType, disposeGraph } from '../graph/ir';
import { type TfNode, type TfRef, attrShape, inlineConst, parseNodes, parseRef, parseShape } from './graphModelAttrs';
import { convertTfNode } from './graphModelOps';
import { loadWeights } from './weights';

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const PASS_THROUGH = new Set(['Identity', 'StopGradient', 'Snapshot', 'PreventGradient']);

/** Conversion state of one graph model; the op converters in graphModelOps.ts work through it. */
export class GraphModelContext {
  readonly nodes: GraphNode[] = [];
  readonly notes: string[] = [];
  input: GraphInput | null = null;
  /** TF node name -> internal node producing its output 0. */
  readonly values = new Map<string, string>();
  private readonly byName = new Map<string, TfNode>();
  private readonly taken = new Set<string>();
  private readonly owned = new Set<tf.Tensor>();
  private readonly inline = new Map<string, tf.Tensor>();

  constructor(readonly subject: string, tfNodes: TfNode[], readonly weights: Map<string, tf.Tensor>,
    private readonly signatureInput: number[] | null) {
    for (const n of tfNodes) this.byName.set(n.name, n);
  }

  /** A BadInputError about this model file. */
  fail(problem: string): never {
    throw new BadInputError(this.subject, problem);
  }

  /** The TF node of that name. */
  tfNode(name: string): TfNode {
    return this.byName.get(name) ?? this.fail(`node "${name}" is referenced but not defined`);
  }

  /** The data inputs of a node. */
  refs(node: TfNode): TfRef[] {
    return node.input.map(parseRef).filter((r): r is TfRef => r !== null);
  }

  /** Follows Identity-like nodes back to the node that really produces a tensor. */
  producer(ref: TfRef): TfNode {
    let node = this.tfNode(ref.node);
    while (PASS_THROUGH.has(node.op) && node.input.length > 0) {
      const next = parseRef(node.input[0]);
      if (!next) break;
      node = this.tfNode(next.node);
    }
    return node;
  }

  /** The constant behind an input (through Identity nodes), or null if it is computed. */
  constOf(ref: TfRef): tf.Tensor | null {
    const node = this.producer(ref);
    if (node.op !== 'Const') return null;
    const stored = this.weights.get(node.name);
    if (stored) return stored;
    if (!this.inline.has(node.name)) {
      const value = inlineConst(node) ?? this.fail(`Const "${node.name}" has no value in the weights manifest`);
      this.inline.set(node.name, value);
    }
    return this.inline.get(node.name)!;
  }

  /** A constant input that becomes a node weight; `what` names it in errors. */
  takeConst(ref: TfRef, node: TfNode, what: string): tf.Tensor {
    const t = this.constOf(ref) ?? this.fail(`${node.op} node "${node.name}": non-constant ${what} is not supported`);
    this.owned.add(t);
    return t;
  }

  /** A constant int list input (axes, shapes, paddings), read without keeping the tensor. */
  constInts(ref: TfRef, node: TfNode, what: string): number[] {
    const t = this.constOf(ref) ?? this.fail(`${node.op} node "${node.name}": non-constant ${what} is not supported`);
    return Array.from(t.dataSync(), Number);
  }

  /** The internal tensor name for an input, creating `const` nodes for constants on first use. */
  value(ref: TfRef): string {
    if (ref.index !== 0) {
      const src = this.tfNode(ref.node);
      this.fail(`output ${ref.index} of ${src.op} node "${src.name}" is used; only single-output ops are supported`);
    }
    const known = this.values.get(ref.node);
    if (known) return known;
    const node = this.producer(ref);
    if (node.op === 'Const') {
      const name = this.emit(node.name, 'const', [], {}, { value: this.takeConst(ref, node, 'value') }, node);
      this.values.set(ref.node, name);
      return name;
    }
    const computed = this.values.get(node.name);
    if (!computed) throw new Error(`internal: ${node.name} not converted before use`);
    return computed;
  }

  /** Appends a node (made unique by suffix if needed) and returns its name. */
  emit(name: string, op: OpType, inputs: string[], attrs: Record<string, AttrValue>, weights: Record<string, tf.Tensor>,
    source: TfNode): string {
    let unique = name;
    for (let k = 2; this.taken.has(unique); k++) unique = `${name}_${k}`;
    this.taken.add(unique);
    for (const w of Object.values(weights)) this.owned.add(w);
    const node: GraphNode = { name: unique, op, inputs, attrs, weights, sourceOp: source.op };
    if (unique !== source.name) node.sourceName = source.name;
    this.nodes.push(node);
    return unique;
  }

  /** Declares the graph input from a Placeholder. */
  placeholder(node: TfNode): string {
    if (this.input) this.fail(`model has more than one input ("${this.input.name}", "${node.name}"); only single-input models are supported`);
    const shape = attrShape(node, 'shape') ?? this.signatureInput;
    if (!shape || shape.length === 0) this.fail(`input "${node.name}" has an unknown shape`);
    const dims = shape!.map((d) => (d > 0 ? d : null));
    if (dims.length !== 4) {
      this.input = { name: node.name, height: null, width: null, channels: dims[dims.length - 1] ?? 0, sourceLayout: 'NHWC' };
      this.notes.push(`input "${node.name}" has rank ${dims.length}, not an image batch`);
      return this.emitInput(node);
    }
    // A channels-first placeholder ([N,3,H,W]): the executor feeds NHWC, so transpose back at the entry.
    const nchw = (dims[1] === 1 || dims[1] === 3) && dims[3] !== null && dims[3] > 4;
    const [h, w, c] = nchw ? [dims[2], dims[3], dims[1]] : [dims[1], dims[2], dims[3]];
    if (c === null) this.fail(`input "${node.name}" has an unknown channel count`);
    this.input = { name: node.name, height: h, width: w, channels: c!, sourceLayout: nchw ? 'NCHW' : 'NHWC' };
    if (h === null || w === null) this.notes.push('input has a dynamic spatial size');
    if (!nchw) return this.emitInput(node);
    this.taken.add(node.name);
    return this.emit(`${node.name}/to_nchw`, 'transpose', [node.name], { perm: [0, 3, 1, 2] }, {}, node);
  }

  private emitInput(node: TfNode): string {
    this.taken.add(node.name);
    return node.name;
  }

  /** Frees weights and inline constants that no node took. */
  disposeUnused(): void {
    for (const t of [...this.weights.values(), ...this.inline.values()]) if (!this.owned.has(t)) t.dispose();
  }

  /** Frees everything (after a failed import). */
  disposeAll(): void {
    for (const t of [...this.weights.values(), ...this.inline.values()]) t.dispose();
  }
}

/** Picks the output node: the signature's first output, else the graph's sink. */
function findOutput(ctx: GraphModelContext, tfNodes: TfNode[], signature: unknown): string {
  if (isRecord(signature) && isRecord(signature.outputs)) {
    const entries = Object.values(signature.outputs).filter(isRecord);
    const first = entries[0];
    if (first && typeof first.name === 'string') {
      if (entries.length > 1) ctx.notes.push(`model has ${entries.length} outputs; using the first (${first.name})`);
      const ref = parseRef(first.name)!;
      if (ref.index !== 0) ctx.fail(`signature output ${first.name} is not output 0 of its node`);
      ctx.tfNode(ref.node);
      return ref.node;
    }
  }
  const consumed = new Set<string>();
  for (const n of tfNodes) for (const r of ctx.refs(n)) consumed.add(r.node);
  const sinks = tfNodes.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp' && n.op !== 'Placeholder');
  if (sinks.length === 0) return ctx.fail('graph has no output node');
  const chosen = sinks[sinks.length - 1];
  if (sinks.length > 1) ctx.notes.push(`graph has ${sinks.length} sink nodes; using "${chosen.name}"`);
  return chosen.name;
}

/** The nodes the output depends on, producers before consumers (iterative, so deep graphs are fine). */
function topologicalOrder(ctx: GraphModelContext, output: string): TfNode[] {
  const order: TfNode[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: { node: TfNode; next: number }[] = [{ node: ctx.tfNode(output), next: 0 }];
  state.set(output, 'open');
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const refs = ctx.refs(top.node);
    if (top.next < refs.length) {
      const dep = refs[top.next++].node;
      const s = state.get(dep);
      if (s === 'open') ctx.fail(`graph has a cycle through node "${dep}"`);
      if (s === undefined) {
        state.set(dep, 'open');
        stack.push({ node: ctx.tfNode(dep), next: 0 });
      }
      continue;
    }
    state.set(top.node.name, 'done');
    order.push(top.node);
    stack.pop();
  }
  return order;
}

function signatureInputShape(signature: unknown): number[] | null {
  if (!isRecord(signature) || !isRecord(signature.inputs)) return null;
  const first = Object.values(signature.inputs).find(isRecord);
  return first ? parseShape(first.tensorShape) : null;
}

/** Imports a graph-model model.json (already parsed) whose weight shards sit beside it. */
export async function importGraphModel(modelJsonPath: string, json: unknown): Promise<Graph> {
  if (!isRecord(json) || !isRecord(json.modelTopology) || !Array.isArray(json.modelTopology.node)) {
    throw new BadInputError(modelJsonPath, 'graph model has no modelTopology.node list');
  }
  const parsed = parseNodes(json.modelTopology.node);
  const bad = parsed.findIndex((n) => n === null);
  if (bad >= 0) throw new BadInputError(modelJsonPath, `graph node ${bad} has no name or op`);
  const tfNodes = parsed as TfNode[];
  const weights = await loadWeights(modelJsonPath, json.weightsManifest);
  const ctx = new GraphModelContext(modelJsonPath, tfNodes, weights, signatureInputShape(json.signature));
  try {
    const output = findOutput(ctx, tfNodes, json.signature);
    for (const node of topologicalOrder(ctx, output)) convertTfNode(ctx, node);
    if (!ctx.input) ctx.fail('graph has no Placeholder input');
    let outName = ctx.value({ node: output, index: 0 });
    // Identity outputs are aliased away; keep the model's own output name as a node.
    if (outName !== output && ctx.nodes.every((n) => n.name !== output)) {
      outName = ctx.emit(output, 'identity', [outName], {}, {}, ctx.tfNode(output));
    }
    ctx.disposeUnused();
    return { format: 'tfjs-graph', input: ctx.input!, output: outName, nodes: ctx.nodes, notes: ctx.notes };
  } catch (err) {
    disposeGraph({ format: 'tfjs-graph', input: ctx.input!, output: '', nodes: ctx.nodes, notes: [] });
    ctx.disposeAll();
    throw err;
  }
}
