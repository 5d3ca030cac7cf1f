/** ONNX → IR converters of elementwise ops, activations, softmax, reductions and Concat on activations. */
import type { AttrValue, OpType } from '../graph/ir';
import { constForLayout } from './onnxConst';
import {
  type Activation, type Attrs, type Dim, dimProduct, floatWeight, identityPerm, OnnxConverter, reshapeTarget,
  type Value,
} from './onnxConverter';
import type { OpConverter } from './onnxOpsNn';

function unary(op: OpType, attrs: (at: Attrs) => Record<string, AttrValue> = () => ({})): OpConverter {
  return (cx: OnnxConverter, at: Attrs) => {
    const x = cx.act(0);
    cx.output(OnnxConverter.act(cx.emit(op, [x.ref], attrs(at)), x.shape, x.perm));
  };
}

const clip: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const scalar = (i: number, what: string): number | undefined => {
    const t = cx.constant(i, what);
    if (t && t.data.length !== 1) cx.fail(`${what} must be a scalar`);
    return t?.data[0];
  };
  const lo = cx.opset >= 11 ? scalar(1, 'min') : at.has('min') ? at.float('min', 0) : undefined;
  const hi = cx.opset >= 11 ? scalar(2, 'max') : at.has('max') ? at.float('max', 0) : undefined;
  // PyTorch's ReLU6 and ReLU-style clamps map to the dedicated ops (guided backprop treats them alike).
  let ref: string;
  if (lo === 0 && hi === 6) ref = cx.emit('relu6', [x.ref]);
  else if (lo === 0 && (hi === undefined || hi === Infinity)) ref = cx.emit('relu', [x.ref]);
  else ref = cx.emit('clip', [x.ref], { min: lo ?? -3.4e38, max: hi ?? 3.4e38 });
  cx.output(OnnxConverter.act(ref, x.shape, x.perm));
};

const prelu: OpConverter = (cx: OnnxConverter) => {
  const x = cx.act(0);
  const slope = cx.constant(1, 'the slope');
  if (!slope) cx.fail('the slope is required');
  const laid = constForLayout(slope, x.shape.length, x.perm);
  if (!laid) cx.fail('the slope does not broadcast against the input');
  cx.output(OnnxConverter.act(cx.emit('prelu', [x.ref], {}, { alpha: floatWeight(laid) }), x.shape, x.perm));
};

const SELU_ALPHA = 1.6732632423543772;
const SELU_GAMMA = 1.0507009873554805;

const selu: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const alpha = at.float('alpha', SELU_ALPHA);
  const gamma = at.float('gamma', SELU_GAMMA);
  if (Math.abs(alpha - SELU_ALPHA) > 1e-6 || Math.abs(gamma - SELU_GAMMA) > 1e-6) cx.fail('only the standard SELU constants are supported');
  unary('selu')(cx, at);
};

const gelu: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  if (at.string('approximate', 'none') !== 'none') cx.fail('the tanh approximation of GELU is not supported');
  unary('gelu')(cx, at);
};

/** Softmax/LogSoftmax; before opset 13 the input is coerced to 2-D at `axis`. */
function softmax(op: 'softmax' | 'logSoftmax'): OpConverter {
  return (cx: OnnxConverter, at: Attrs) => {
    const x = cx.act(0);
    const rank = x.shape.length;
    const legacy = cx.opset < 13;
    const axisAttr = at.int('axis', legacy ? 1 : -1);
    const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
    const trailingOnes = x.shape.slice(axis + 1).every((d) => d === 1);
    if (!legacy || trailingOnes) {
      const ref = cx.emit(op, [x.ref], { axis: x.perm.indexOf(axis) });
      cx.output(OnnxConverter.act(ref, x.shape, x.perm));
      return;
    }
    const flat = reshapeTarget([dimProduct(x.shape.slice(0, axis)), dimProduct(x.shape.slice(axis))]);
    const back = reshapeTarget(x.shape);
    if (!flat || !back) cx.fail('dynamic sizes in a legacy softmax are not supported');
    const r1 = cx.emit('reshape', [cx.sourceOrder(x)], { shape: flat }, {}, 'coerce_2d');
    const r2 = cx.emit(op, [r1], { axis: -1 }, {}, 'softmax');
    cx.output(OnnxConverter.act(cx.emit('reshape', [r2], { shape: back }), x.shape, identityPerm(rank)));
  };
}

/** Broadcast of two tracked shapes (numpy rules). */
function broadcastDims(a: readonly Dim[], b: readonly Dim[]): Dim[] | null {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || x === y) out.push(x);
    else if (x === null || y === null) out.push(null);
    else return null;
  }
  return out;
}

/** An IR tensor of activation `v` brought to `rank` (leading ones) and `perm`, for broadcasting. */
function aligned(cx: OnnxConverter, v: Activation, rank: number, perm: number[]): string {
  if (v.shape.length === rank) return cx.withPerm(v, perm);
  const shape: Dim[] = [...new Array<number>(rank - v.shape.length).fill(1), ...v.shape];
  const target = reshapeTarget(shape);
  if (!target) cx.fail('cannot broadcast an operand of dynamic size');
  const ref = cx.emit('reshape', [cx.sourceOrder(v)], { shape: target }, {}, 'expand_rank');
  return cx.withPerm(OnnxConverter.act(ref, shape, identityPerm(rank)), perm);
}

/** Elementwise binary ops with numpy broadcasting; constants are laid out at load time. */
function binary(op: OpType): OpConverter {
  return (cx: OnnxConverter) => {
    const operands = [cx.input(0), cx.input(1)];
    if (!operands[0] || !operands[1]) cx.fail('two inputs are required');
    const values = operands as Value[];
    const leader = values
      .filter((v): v is Activation => v.kind === 'act')
      .reduce((best, v) => (v.shape.length > best.shape.length ? v : best));
    const shapes = values.map((v) => (v.kind === 'act' ? v.shape : v.t.dims));
    const shape = broadcastDims(shapes[0], shapes[1]);
    if (!shape) cx.fail(`shapes [${shapes[0].join(',')}] and [${shapes[1].join(',')}] do not broadcast`);
    if (shape.length !== leader.shape.length) cx.fail('an activation broadcast to a higher rank is not supported');
    const refs = values.map((v, i) =>
      v.kind === 'act' ? aligned(cx, v, shape.length, leader.perm) : cx.constFor(v.t, shape.length, leader.perm, `operand${i}`));
    cx.output(OnnxConverter.act(cx.emit(op, refs), shape, leader.perm));
  };
}

/** Variadic Max/Min/Sum as chains of binary ops. */
function variadic(op: OpType): OpConverter {
  return (cx: OnnxConverter, at: Attrs) => {
    if (cx.node.input.length === 1) {
      const x = cx.act(0);
      cx.output(x);
      return;
    }
    if (cx.node.input.length !== 2) cx.fail('only one or two inputs are supported');
    binary(op)(cx, at);
  };
}

/** Reductions; axes move from an attribute to an input at opset 13 (ReduceSum) or 18 (the others). */
function reduce(op: 'mean' | 'sum' | 'max', axesInputFrom: number): OpConverter {
  return (cx: OnnxConverter, at: Attrs) => {
    const x = cx.act(0);
    const rank = x.shape.length;
    let axes = cx.opset >= axesInputFrom ? cx.ints(1, 'axes') : at.ints('axes');
    if (!axes || axes.length === 0) {
      if (at.int('noop_with_empty_axes', 0) === 1) {
        cx.output(x);
        return;
      }
      axes = identityPerm(rank);
    }
    const onnxAxes = axes.map((a) => (a < 0 ? a + rank : a));
    const keepDims = at.int('keepdims', 1) === 1;
    const internalAxes = onnxAxes.map((a) => x.perm.indexOf(a)).sort((a, b) => a - b);
    const ref = cx.emit(op, [x.ref], { axes: internalAxes, keepDims });
    if (keepDims) {
      cx.output(OnnxConverter.act(ref, x.shape.map((d, i) => (onnxAxes.includes(i) ? 1 : d)), x.perm));
      return;
    }
    const kept = identityPerm(rank).filter((a) => !onnxAxes.includes(a));
    const perm = x.perm.filter((p) => kept.includes(p)).map((p) => kept.indexOf(p));
    cx.output(OnnxConverter.act(ref, kept.map((a) => x.shape[a]), perm));
  };
}

const concat: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const values = cx.node.input.map((_, i) => cx.input(i)).filter((v): v is Value => v !== undefined);
  const leader = values.find((v): v is Activation => v.kind === 'act')!;
  const rank = leader.shape.length;
  const axisAttr = at.int('axis', 0);
  const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
  const refs = values.map((v, i) => {
    if (v.kind === 'act') {
      if (v.shape.length !== rank) cx.fail('inputs of different ranks');
      return cx.withPerm(v, leader.perm);
    }
    if (v.t.dims.length !== rank) cx.fail('inputs of different ranks');
    return cx.constPermuted(v.t, leader.perm, `operand${i}`);
  });
  const sizes = values.map((v) => (v.kind === 'act' ? v.shape[axis] : v.t.dims[axis]));
  const total = sizes.every((d): d is number => typeof d === 'number') ? sizes.reduce((a, b) => a + b, 0) : null;
  const shape = leader.shape.map((d, i) => (i === axis ? total : d));
  cx.output(OnnxConverter.act(cx.emit('concat', refs, { axis: leader.perm.indexOf(axis) }), shape, leader.perm));
};

/** Converters of elementwise and reduction ops, by ONNX op type. */
export const MATH_OPS: Record<string, OpConverter> = {
  Relu: unary('relu'),
  LeakyRelu: unary('leakyRelu', (at) => ({ alpha: at.float('alpha', 0.01) })),
  PRelu: prelu,
  Clip: clip,
  Elu: unary('elu', (at) => ({ alpha: at.float('alpha', 1) })),
  Selu: selu,
  Sigmoid: unary('sigmoid'),
  HardSigmoid: unary('hardSigmoid', (at) => ({ alpha: at.float('alpha', 0.2), beta: at.float('beta', 0.5) })),
  HardSwish: unary('hardSwish'),
  Tanh: unary('tanh'),
  Softplus: unary('softplus'),
  Gelu: gelu,
  Erf: unary('erf'),
  Exp: unary('exp'),
  Log: unary('log'),
  Sqrt: unary('sqrt'),
  Neg: unary('neg'),
  Abs: unary('abs'),
  Reciprocal: unary('reciprocal'),
  Softmax: softmax('softmax'),
  LogSoftmax: softmax('logSoftmax'),
  Add: binary('add'),
  Sub: binary('sub'),
  Mul: binary('mul'),
  Div: binary('div'),
  Pow: binary('pow'),
  Max: variadic('maximum'),
  Min: variadic('minimum'),
  Sum: variadic('add'),
  ReduceMean: reduce('mean', 18),
  ReduceSum: reduce('sum', 13),
  ReduceMax: reduce('max', 18),
  Concat: concat,
};
