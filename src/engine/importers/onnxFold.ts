/**
 * Load-time evaluation of nodes whose inputs are all constants: the Shape/Gather/Slice/Concat/Reshape chains
 * that exporters emit to compute static shapes, plus small arithmetic on constants.
 */
import {
  BATCH, binaryConst, broadcastShape, broadcastTo, castConst, concatConst, floatConst, gatherConst, intConst,
  sliceConst, sliceRange, transposeConst,
} from './onnxConst';
import { type Attrs, identityPerm, type OnnxConverter } from './onnxConverter';
import { reshapeDims } from './onnxOpsShape';
import { type ConstTensor, isFloatType, numel } from './onnxTensors';

/** Evaluates the current node on constant inputs (undefined = absent optional input). */
export type ConstFolder = (cx: OnnxConverter, at: Attrs, inputs: Inputs) => ConstTensor;

type Inputs = Array<ConstTensor | undefined>;

const norm = (a: number, rank: number) => (a < 0 ? a + rank : a);

function need(cx: OnnxConverter, t: ConstTensor | undefined, what: string): ConstTensor {
  if (!t) cx.fail(`${what} is required`);
  return t;
}

function ints(cx: OnnxConverter, t: ConstTensor | undefined, what: string): number[] | undefined {
  return t ? cx.batchFree(Array.from(t.data), what) : undefined;
}

/**
 * Arithmetic that keeps the batch marker through the identities exporters produce (N*1, N/1, N+0, N-0) and
 * otherwise computes with batch size 1 (with a note).
 */
function binaryFolder(f: (x: number, y: number) => number, neutral: number, commutative: boolean): ConstFolder {
  return (cx: OnnxConverter, _at: Attrs, [a, b]: Inputs) => {
    let noted = false;
    const out = binaryConst(need(cx, a, 'input 0'), need(cx, b, 'input 1'), (x, y) => {
      if (x === BATCH && y === neutral) return BATCH;
      if (commutative && y === BATCH && x === neutral) return BATCH;
      if (x !== BATCH && y !== BATCH) return f(x, y);
      if (!noted) cx.batchFree([BATCH], 'a shape computation');
      noted = true;
      return f(x === BATCH ? 1 : x, y === BATCH ? 1 : y);
    });
    if (!out) cx.fail('the inputs do not broadcast');
    return out;
  };
}

function unaryFolder(f: (x: number) => number): ConstFolder {
  return (cx: OnnxConverter, _at: Attrs, [a]: Inputs) => {
    const t = need(cx, a, 'input 0');
    const data = t.kind === 'float' ? Float32Array.from(t.data, f) : Float64Array.from(t.data, f);
    return { kind: t.kind, dims: t.dims, data };
  };
}

const intDiv = (x: number, y: number) => (Number.isInteger(x) && Number.isInteger(y) ? Math.trunc(x / y) : x / y);

/** Reads the value of a Constant node. */
function constantValue(cx: OnnxConverter, at: Attrs): ConstTensor {
  const t = at.raw('value');
  if (t?.t) return cx.tensor(t.t);
  if (at.has('value_float')) return floatConst([at.float('value_float', 0)], []);
  if (at.has('value_floats')) return floatConst(at.floats('value_floats')!, [at.floats('value_floats')!.length]);
  if (at.has('value_int')) return intConst([at.int('value_int', 0)], []);
  if (at.has('value_ints')) return intConst(at.ints('value_ints')!);
  cx.fail('only tensor, float(s) and int(s) values are supported');
}

function squeezeDims(cx: OnnxConverter, dims: number[], axes: number[] | undefined): number[] {
  const ax = axes ? axes.map((a) => norm(a, dims.length)) : identityPerm(dims.length).filter((a) => dims[a] === 1);
  if (ax.some((a) => dims[a] !== 1)) cx.fail('squeezing an axis whose size is not 1');
  return dims.filter((_, i) => !ax.includes(i));
}

function unsqueezeDims(dims: number[], axes: number[]): number[] {
  const rank = dims.length + axes.length;
  const ax = axes.map((a) => norm(a, rank));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : dims[k++]);
  return out;
}

const sliceFolder: ConstFolder = (cx: OnnxConverter, at: Attrs, [data, s, e, a, st]: Inputs) => {
  const t = need(cx, data, 'data');
  const legacy = cx.opset < 10;
  const starts = legacy ? at.ints('starts') : ints(cx, s, 'starts');
  const ends = legacy ? at.ints('ends') : ints(cx, e, 'ends');
  if (!starts || !ends) cx.fail('starts and ends are required');
  const axes = ((legacy ? at.ints('axes') : ints(cx, a, 'axes')) ?? identityPerm(starts.length)).map((x) => norm(x, t.dims.length));
  const steps = (legacy ? undefined : ints(cx, st, 'steps')) ?? starts.map(() => 1);
  const ranges = t.dims.map((d) => ({ start: 0, count: d, step: 1 }));
  axes.forEach((ax, i) => {
    if (steps[i] === 0) cx.fail('a slice step of 0');
    const r = sliceRange(t.dims[ax], starts[i], ends[i], steps[i]);
    ranges[ax] = { ...r, step: steps[i] };
  });
  return sliceConst(t, ranges);
};

const whereFolder: ConstFolder = (cx: OnnxConverter, _at: Attrs, [c, x, y]: Inputs) => {
  const [cond, a, b] = [need(cx, c, 'condition'), need(cx, x, 'X'), need(cx, y, 'Y')];
  const dims = broadcastShape(broadcastShape(cond.dims, a.dims) ?? [], b.dims);
  if (!dims) cx.fail('inputs do not broadcast');
  const [cc, aa, bb] = [cond, a, b].map((t) => broadcastTo(t, dims));
  const kind = a.kind === 'float' || b.kind === 'float' ? 'float' : 'int';
  const out = kind === 'float' ? new Float32Array(numel(dims)) : new Float64Array(numel(dims));
  for (let i = 0; i < out.length; i++) out[i] = cc.data[i] ? aa.data[i] : bb.data[i];
  return { kind, dims, data: out };
};

/** Folders by ONNX op type. */
export const CONST_FOLDERS: Record<string, ConstFolder> = {
  Constant: (cx: OnnxConverter, at: Attrs) => constantValue(cx, at),
  Identity: (cx: OnnxConverter, _at: Attrs, [a]: Inputs) => need(cx, a, 'input'),
  Dropout: (cx: OnnxConverter, _at: Attrs, [a]: Inputs) => need(cx, a, 'input'),
  Cast: (cx: OnnxConverter, at: Attrs, [a]: Inputs) => castConst(need(cx, a, 'input'), isFloatType(at.int('to', 1)) ? 'float' : 'int'),
  Shape: (cx: OnnxConverter, at: Attrs, [a]: Inputs) => {
    const dims = need(cx, a, 'input').dims;
    const clamp = (v: number) => Math.min(Math.max(norm(v, dims.length), 0), dims.length);
    return intConst(dims.slice(clamp(at.int('start', 0)), clamp(at.int('end', dims.length))));
  },
  Gather: (cx: OnnxConverter, at: Attrs, [d, i]: Inputs) => {
    const t = need(cx, d, 'data');
    return gatherConst(t, need(cx, i, 'indices'), norm(at.int('axis', 0), t.dims.length));
  },
  Slice: sliceFolder,
  Concat: (cx: OnnxConverter, at: Attrs, inputs: Inputs) => {
    const parts = inputs.filter((t): t is ConstTensor => t !== undefined && numel(t.dims) > 0);
    if (parts.length === 0) return need(cx, inputs[0], 'input');
    return concatConst(parts, norm(at.int('axis', 0), parts[0].dims.length));
  },
  Unsqueeze: (cx: OnnxConverter, at: Attrs, [a, ax]: Inputs) => {
    const t = need(cx, a, 'input');
    const axes = cx.opset >= 13 ? ints(cx, ax, 'axes') : at.ints('axes');
    if (!axes) cx.fail('axes are required');
    return { ...t, dims: unsqueezeDims(t.dims, axes) };
  },
  Squeeze: (cx: OnnxConverter, at: Attrs, [a, ax]: Inputs) => {
    const t = need(cx, a, 'input');
    return { ...t, dims: squeezeDims(cx, t.dims, cx.opset >= 13 ? ints(cx, ax, 'axes') : at.ints('axes')) };
  },
  Reshape: (cx: OnnxConverter, at: Attrs, [a, s]: Inputs) => {
    const t = need(cx, a, 'data');
    const dims = reshapeDims(cx, t.dims, ints(cx, need(cx, s, 'shape'), 'shape')!, at.int('allowzero', 0) === 1);
    if (dims.some((d) => typeof d !== 'number') || numel(dims as number[]) !== t.data.length) cx.fail('bad constant reshape');
    return { ...t, dims: dims as number[] };
  },
  Flatten: (cx: OnnxConverter, at: Attrs, [a]: Inputs) => {
    const t = need(cx, a, 'input');
    const axis = norm(at.int('axis', 1), t.dims.length);
    return { ...t, dims: [numel(t.dims.slice(0, axis)), numel(t.dims.slice(axis))] };
  },
  Transpose: (cx: OnnxConverter, at: Attrs, [a]: Inputs) => {
    const t = need(cx, a, 'input');
    return transposeConst(t, at.ints('perm') ?? identityPerm(t.dims.length).reverse());
  },
  ConstantOfShape: (cx: OnnxConverter, at: Attrs, [s]: Inputs) => {
    const dims = ints(cx, need(cx, s, 'shape'), 'the shape of ConstantOfShape')!;
    const v = at.raw('value')?.t ? cx.tensor(at.raw('value')!.t!) : floatConst([0], [1]);
    const data = v.kind === 'float' ? new Float32Array(numel(dims)) : new Float64Array(numel(dims));
    return { kind: v.kind, dims, data: data.fill(v.data[0] ?? 0) };
  },
  Expand: (cx: OnnxConverter, _at: Attrs, [a, s]: Inputs) => {
    const t = need(cx, a, 'input');
    const dims = broadcastShape(t.dims, ints(cx, need(cx, s, 'shape'), 'shape')!);
    if (!dims) cx.fail('shapes do not broadcast');
    return broadcastTo(t, dims);
  },
  Where: whereFolder,
  Equal: (cx: OnnxConverter, _at: Attrs, [a, b]: Inputs) => {
    // Markers compare as themselves: Equal(N, N) is true, Equal(N, -1) false, whatever the batch size.
    const out = binaryConst(need(cx, a, 'input 0'), need(cx, b, 'input 1'), (x, y) => (x === y ? 1 : 0));
    if (!out) cx.fail('the inputs do not broadcast');
    return { ...out, kind: 'int' };
  },
  Add: binaryFolder((x, y) => x + y, 0, true),
  Sub: binaryFolder((x, y) => x - y, 0, false),
  Mul: binaryFolder((x, y) => x * y, 1, true),
  Div: binaryFolder(intDiv, 1, false),
  Pow: binaryFolder((x, y) => x ** y, 1, false),
  Max: binaryFolder(Math.max, -Infinity, true),
  Min: binaryFolder(Math.min, Infinity, true),
  Sqrt: unaryFolder(Math.sqrt),
  Neg: unaryFolder((x) => -x),
  Abs: unaryFolder(Math.abs),
  Reciprocal: unaryFolder((x) => 1 / x),
  Exp: unaryFolder(Math.exp),
  Log: unaryFolder(Math.log),
  Floor: unaryFolder(Math.floor),
  Ceil: unaryFolder(Math.ceil),
  Relu: unaryFolder((x) => Math.max(x, 0)),
  Sigmoid: unaryFolder((x) => 1 / (1 + Math.exp(-x))),
  Tanh: unaryFolder(Math.tanh),
};

/** Whether a node can be evaluated at load time: all inputs constant and a folder exists. */
export function canFold(op: string, inputs: Array<{ kind: string } | undefined>): boolean {
  return op in CONST_FOLDERS && inputs.every((v) => v === undefined || v.kind === 'const');
}
