/** Reading GraphDef JSON (as tfjs-converter writes it): nodes, input references and attribute values. */
import * as tf from '@tensorflow/tfjs-core';

/** A GraphDef node as it appears in model.json. */
export interface TfNode {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, unknown>;
}

/** A data input of a node: output `index` of node `node`. */
export interface TfRef {
  node: string;
  index: number;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses "name", "name:1"; control inputs ("^name") give null. */
export function parseRef(input: string): TfRef | null {
  if (input.startsWith('^')) return null;
  const m = /^(.*):(\d+)$/.exec(input);
  return m ? { node: m[1], index: Number(m[2]) } : { node: input, index: 0 };
}

/** Checks the structure of a node list and returns it typed; null entries mean a malformed node. */
export function parseNodes(raw: unknown[]): (TfNode | null)[] {
  return raw.map((n) => {
    if (!isRecord(n) || typeof n.name !== 'string' || typeof n.op !== 'string') return null;
    const input = Array.isArray(n.input) ? n.input.filter((i): i is string => typeof i === 'string') : [];
    return { name: n.name, op: n.op, input, attr: isRecord(n.attr) ? n.attr : {} };
  });
}

const toNumber = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

/** An int attribute (int64 values arrive as strings). */
export function attrInt(node: TfNode, key: string, fallback: number): number {
  const a = node.attr[key];
  return isRecord(a) && a.i !== undefined ? toNumber(a.i) : fallback;
}

/** A float attribute. */
export function attrFloat(node: TfNode, key: string, fallback: number): number {
  const a = node.attr[key];
  if (!isRecord(a)) return fallback;
  if (a.f !== undefined) return toNumber(a.f);
  return a.i !== undefined ? toNumber(a.i) : fallback;
}

/** A bool attribute. */
export function attrBool(node: TfNode, key: string, fallback: boolean): boolean {
  const a = node.attr[key];
  return isRecord(a) && typeof a.b === 'boolean' ? a.b : fallback;
}

function decodeString(s: unknown): string {
  if (Array.isArray(s)) return String.fromCharCode(...s.map(toNumber));
  return typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '';
}

/** A string attribute (base64 in the JSON). */
export function attrString(node: TfNode, key: string, fallback: string): string {
  const a = node.attr[key];
  return isRecord(a) && a.s !== undefined ? decodeString(a.s) : fallback;
}

/** An int-list attribute. */
export function attrInts(node: TfNode, key: string, fallback: number[]): number[] {
  const a = node.attr[key];
  if (!isRecord(a) || !isRecord(a.list)) return fallback;
  return Array.isArray(a.list.i) ? a.list.i.map(toNumber) : [];
}

/** A string-list attribute. */
export function attrStrings(node: TfNode, key: string): string[] {
  const a = node.attr[key];
  if (!isRecord(a) || !isRecord(a.list) || !Array.isArray(a.list.s)) return [];
  return a.list.s.map(decodeString);
}

/** A TensorShapeProto ({dim: [{size}], unknownRank}) as numbers, -1 for unknown; null for unknown rank. */
export function parseShape(shape: unknown): number[] | null {
  if (!isRecord(shape) || shape.unknownRank === true) return null;
  if (!Array.isArray(shape.dim)) return [];
  return shape.dim.map((d) => (isRecord(d) && d.size !== undefined ? toNumber(d.size) : -1));
}

/** A shape attribute. */
export function attrShape(node: TfNode, key: string): number[] | null {
  const a = node.attr[key];
  return isRecord(a) ? parseShape(a.shape) : null;
}

/**
 * The value of a Const node whose tensor is inlined in its `value` attribute (float/int values or
 * tensorContent), for GraphDefs that were not stripped of constants by the converter. Null if absent.
 */
export function inlineConst(node: TfNode): tf.Tensor | null {
  const a = node.attr.value;
  if (!isRecord(a) || !isRecord(a.tensor)) return null;
  const t = a.tensor;
  const shape = parseShape(t.tensorShape) ?? [];
  if (shape.some((d) => d < 0)) return null;
  const size = shape.reduce((p, q) => p * q, 1);
  const isInt = t.dtype === 'DT_INT32' || t.dtype === 'DT_INT64';
  if (t.dtype !== 'DT_FLOAT' && !isInt) return null;
  if (typeof t.tensorContent === 'string') {
    const bytes = Buffer.from(t.tensorContent, 'base64');
    const copy = new Uint8Array(bytes).buffer;
    if (t.dtype === 'DT_INT64') {
      const big = new BigInt64Array(copy);
      return tf.tensor(Int32Array.from(big, (v) => Number(v)), shape, 'int32');
    }
    return isInt ? tf.tensor(new Int32Array(copy), shape, 'int32') : tf.tensor(new Float32Array(copy), shape, 'float32');
  }
  const raw = (isInt ? (t.intVal ?? t.int64Val) : t.floatVal) as unknown[] | undefined;
  if (!Array.isArray(raw)) return null;
  const values = raw.map(toNumber);
  const filled = values.length === size ? values : Array.from({ length: size }, (_, i) => values[Math.min(i, values.length - 1)] ?? 0);
  return tf.tensor(filled, shape, isInt ? 'int32' : 'float32');
}
