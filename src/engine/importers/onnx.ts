/**
 * The ONNX importer: reads a .onnx file (protobufjs, embedded schema), converts NCHW graphs to the NHWC IR
 * once at load time (weights re-laid out, axis attributes remapped, static shapes tracked and shape
 * computations folded), and returns a Graph for the executor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BadInputError, oneLine } from '../../shared/errors';
import type { Graph, GraphNode, Layout } from '../graph/ir';
import { Attrs, type Dim, identityPerm, NHWC_PERM, OnnxConverter, type PendingNode } from './onnxConverter';
import { canFold, CONST_FOLDERS } from './onnxFold';
import { MATH_OPS } from './onnxOpsMath';
import { NN_OPS, type OpConverter } from './onnxOpsNn';
import { NORM_OPS } from './onnxOpsNorm';
import { SHAPE_OPS } from './onnxOpsShape';
import { optimizeGraph } from './onnxOptimize';
import { decodeModelProto, int64, type OnnxGraphProto, type OnnxModelProto, type OnnxValueInfo } from './onnxSchema';
import { ExternalDataReader } from './onnxTensors';

/** Options of the ONNX import. */
export interface OnnxImportOptions {
  /** Spatial size [height, width] to use when the model's input size is dynamic (default 224×224). */
  inputSize?: [number, number];
}

/** Every ONNX op type the importer converts (for documentation and listings). */
export const SUPPORTED_ONNX_OPS: readonly string[] = [
  ...new Set([...Object.keys(NN_OPS), ...Object.keys(NORM_OPS), ...Object.keys(MATH_OPS), ...Object.keys(SHAPE_OPS), ...Object.keys(CONST_FOLDERS)]),
].sort();

const CONVERTERS: Record<string, OpConverter> = { ...SHAPE_OPS, ...MATH_OPS, ...NN_OPS, ...NORM_OPS };

/** The oldest and newest default-domain opsets we accept; newer ones load with a note. */
const MIN_OPSET = 7;
const TESTED_OPSET = 18;
const DEFAULT_SIZE = 224;

function decode(path: string, bytes: Uint8Array): OnnxModelProto {
  let model: OnnxModelProto;
  try {
    model = decodeModelProto(bytes);
  } catch (err) {
    throw new BadInputError(path, `not a valid ONNX model (truncated or corrupt: ${oneLine(err)})`);
  }
  if (!model.graph || model.graph.node.length === 0) throw new BadInputError(path, 'not a valid ONNX model (no graph)');
  return model;
}

function defaultOpset(path: string, model: OnnxModelProto): number {
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!entry) throw new BadInputError(path, 'the model imports no default-domain ONNX opset');
  const v = int64(entry.version);
  if (v < MIN_OPSET) throw new BadInputError(path, `opset ${v} is too old (need ${MIN_OPSET} or newer; 11–18 are tested)`);
  return v;
}

/** Reads the single image input: layout, channels, spatial size (dynamic → default), batch. */
function readInput(cx: OnnxConverter, graph: OnnxGraphProto, initializers: Set<string>, options: OnnxImportOptions): Graph['input'] {
  const inputs = graph.input.filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1) {
    cx.fail(`expected one image input, found ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  }
  const info: OnnxValueInfo = inputs[0];
  const tensorType = info.type?.tensorType;
  if (tensorType && ![1, 10, 11, 16].includes(tensorType.elemType)) {
    cx.fail(`input "${info.name}" has element type ${tensorType.elemType}; a floating-point image is expected`);
  }
  const dims = (tensorType?.shape?.dim ?? []).map((d) => {
    const v = d.dimValue == null ? 0 : int64(d.dimValue);
    return v > 0 ? v : null;
  });
  if (dims.length !== 4) cx.fail(`input "${info.name}" has rank ${dims.length}; a 4-D image batch is expected`);
  const small = (d: number | null) => d !== null && d <= 4;
  const layout: Layout = !small(dims[1]) && small(dims[3]) ? 'NHWC' : 'NCHW';
  const [hAxis, wAxis, cAxis] = layout === 'NCHW' ? [2, 3, 1] : [1, 2, 3];
  const channels = dims[cAxis];
  if (channels === null) cx.fail(`input "${info.name}" has a dynamic number of channels`);
  let [h, w] = [dims[hAxis], dims[wAxis]];
  if (h === null || w === null) {
    const [dh, dw] = options.inputSize ?? [DEFAULT_SIZE, DEFAULT_SIZE];
    cx.notes.push(`dynamic input size; using ${dh}×${dw} (set inputSize in saliency-lens.json)`);
    h ??= dh;
    w ??= dw;
  }
  if (dims[0] !== null) cx.staticBatch = dims[0];
  const name = cx.reserve(info.name);
  const shape: Dim[] = layout === 'NCHW' ? ['N', channels, h, w] : ['N', h, w, channels];
  cx.values.set(info.name, OnnxConverter.act(name, shape, layout === 'NCHW' ? NHWC_PERM : identityPerm(4)));
  return { name, height: h, width: w, channels, sourceLayout: layout };
}

function countConsumers(cx: OnnxConverter, graph: OnnxGraphProto): void {
  for (const n of graph.node) for (const i of n.input) if (i) cx.consumers.set(i, (cx.consumers.get(i) ?? 0) + 1);
  for (const o of graph.output) cx.consumers.set(o.name, (cx.consumers.get(o.name) ?? 0) + 1);
}

function convertNodes(cx: OnnxConverter, graph: OnnxGraphProto): void {
  for (const node of graph.node) {
    cx.begin(node);
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      throw new BadInputError(cx.modelPath, `unsupported ONNX op ${node.domain}.${node.opType} (node "${cx.nodeName}", opset ${cx.opset})`);
    }
    // Nodes nothing consumes (dead shape computations, unused outputs) are skipped.
    if (!node.output.some((o) => (cx.consumers.get(o) ?? 0) > 0)) continue;
    const inputs = node.input.map((_, i) => cx.input(i));
    const at = new Attrs(node.attribute);
    if (canFold(node.opType, inputs)) {
      cx.output({ kind: 'const', t: CONST_FOLDERS[node.opType](cx, at, inputs.map((v) => (v?.kind === 'const' ? v.t : undefined))) });
      continue;
    }
    const convert = CONVERTERS[node.opType];
    if (!convert) {
      throw new BadInputError(cx.modelPath, `unsupported ONNX op ${node.opType} (node "${cx.nodeName}", opset ${cx.opset})`);
    }
    if (inputs.every((v) => v === undefined || v.kind === 'const')) cx.fail('cannot evaluate this op on constants at load time');
    convert(cx, at);
  }
}

/** The IR node giving the model's prediction, in ONNX element order. */
function graphOutput(cx: OnnxConverter, graph: OnnxGraphProto): string {
  const first = graph.output[0];
  if (!first) cx.fail('the graph has no output');
  cx.beginGraphLevel(first.name);
  if (graph.output.length > 1) cx.notes.push(`the model has ${graph.output.length} outputs; using the first, "${first.name}"`);
  const v = cx.values.get(first.name);
  if (!v) cx.fail(`output "${first.name}" is not computed by any node`);
  if (v.kind !== 'act') cx.fail(`output "${first.name}" is a constant`);
  return cx.withPerm(v, identityPerm(v.shape.length));
}

const LABEL_KEYS = ['labels', 'classes', 'class_names', 'classlabels'];

/**
 * Class names from the model's metadata_props (keys labels / classes / class_names / classLabels): a JSON
 * array, a JSON object from index to name, or one name per line (or comma-separated).
 */
export function metadataLabels(props: ReadonlyArray<{ key: string; value: string }>): string[] | undefined {
  const entry = props.find((p) => LABEL_KEYS.includes(p.key.toLowerCase()));
  if (!entry) return undefined;
  const text = entry.value.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed.map(String);
    if (parsed && typeof parsed === 'object') {
      const byIndex = Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [Number(k), String(v)] as const);
      if (byIndex.every(([k]) => Number.isInteger(k))) return byIndex.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    }
  } catch {
    // Not JSON: plain text.
  }
  const lines = text.includes('\n') ? text.split('\n') : text.split(',');
  const names = lines.map((l) => l.trim()).filter(Boolean);
  return names.length > 0 ? names : undefined;
}

/** Turns pending nodes into IR nodes with TF.js weight tensors (all freed again if anything fails). */
function materialise(nodes: PendingNode[]): GraphNode[] {
  const made: tf.Tensor[] = [];
  try {
    return nodes.map((n) => {
      const weights: Record<string, tf.Tensor> = {};
      for (const [k, w] of Object.entries(n.weights)) {
        const t = tf.tensor(w.data, w.shape, 'float32');
        made.push(t);
        weights[k] = t;
      }
      return { name: n.name, op: n.op, inputs: n.inputs, attrs: n.attrs, weights, sourceOp: n.sourceOp, sourceName: n.sourceName };
    });
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }
}

/** Imports an ONNX model file as an internal graph. Bad files raise BadInputError naming `path`. */
export async function importOnnxModel(path: string, options: OnnxImportOptions = {}): Promise<Graph> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInputError(path, code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? oneLine(err)})`);
  }
  const model = decode(path, bytes);
  const opset = defaultOpset(path, model);
  const graph = model.graph!;
  const external = new ExternalDataReader(path, dirname(path));
  try {
    const cx = new OnnxConverter(path, opset, external);
    if (opset > TESTED_OPSET) cx.notes.push(`opset ${opset} is newer than the tested 11–${TESTED_OPSET}`);
    const initializers = new Set(graph.initializer.map((t) => t.name));
    const input = readInput(cx, graph, initializers, options);
    for (const t of graph.initializer) {
      if (!cx.values.has(t.name)) cx.values.set(t.name, { kind: 'const', t: cx.tensor(t) });
    }
    countConsumers(cx, graph);
    convertNodes(cx, graph);
    const rawOutput = graphOutput(cx, graph);
    const { nodes, output } = optimizeGraph(cx.nodes, rawOutput);
    if (output === input.name) cx.fail('the output is the input itself');
    const labels = metadataLabels(model.metadataProps);
    return { format: 'onnx', input, output, nodes: materialise(nodes), notes: cx.notes, ...(labels ? { metadataLabels: labels } : {}) };
  } finally {
    external.close();
  }
}
