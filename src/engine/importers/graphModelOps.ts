/** Converts GraphDef ops (as tfjs-converter emits them for CNN classifiers) into internal nodes. */
import * as tf from '@tensorflow/tfjs-core';
import type { AttrValue, OpType, Padding } from '../graph/ir';
import type { GraphModelContext } from './graphModel';
import { type TfNode, type TfRef, attrBool, attrFloat, attrInt, attrInts, attrString, attrStrings, parseRef } from './graphModelAttrs';

/** One internal node of a fused TF op, before naming. */
interface Step {
  op: OpType;
  /** Extra inputs after the previous step's output. */
  extra: string[];
  attrs: Record<string, AttrValue>;
  weights: Record<string, tf.Tensor>;
  suffix: string;
}

const UNARY: Record<string, OpType> = {
  Relu: 'relu', Relu6: 'relu6', Elu: 'elu', Selu: 'selu', Sigmoid: 'sigmoid', Tanh: 'tanh', Softplus: 'softplus',
  Exp: 'exp', Log: 'log', Sqrt: 'sqrt', Neg: 'neg', Abs: 'abs', Reciprocal: 'reciprocal', Inv: 'reciprocal', Erf: 'erf',
};

const BINARY: Record<string, OpType> = {
  Add: 'add', AddV2: 'add', Sub: 'sub', Mul: 'mul', RealDiv: 'div', Div: 'div', Maximum: 'maximum', Minimum: 'minimum',
  Pow: 'pow',
};

const ACTIVATIONS = new Set(['Relu', 'Relu6', 'Elu', 'Selu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'Prelu']);

const REDUCTIONS: Record<string, OpType> = { Mean: 'mean', Sum: 'sum', Max: 'max' };

/** Emits the steps of a (possibly fused) op; the last carries the TF name, the one before an activation `/preact`. */
function emitSteps(ctx: GraphModelContext, node: TfNode, first: string, steps: Step[]): string {
  let prev = first;
  steps.forEach((step, i) => {
    const isLast = i === steps.length - 1;
    const beforeActivation = i === steps.length - 2 && ACTIVATIONS.has(steps[steps.length - 1].suffix);
    const name = isLast ? node.name : beforeActivation ? `${node.name}/preact` : `${node.name}/${step.suffix}`;
    prev = ctx.emit(name, step.op, [prev, ...step.extra], step.attrs, step.weights, node);
  });
  return prev;
}

function checkNhwc(ctx: GraphModelContext, node: TfNode): void {
  const format = attrString(node, 'data_format', 'NHWC');
  if (format !== 'NHWC') ctx.fail(`${node.op} node "${node.name}": data_format ${format} is not supported (only NHWC)`);
}

function windowAttrs(ctx: GraphModelContext, node: TfNode): Record<string, AttrValue> {
  checkNhwc(ctx, node);
  const s = attrInts(node, 'strides', [1, 1, 1, 1]);
  const d = attrInts(node, 'dilations', [1, 1, 1, 1]);
  const mode = attrString(node, 'padding', 'VALID').toUpperCase();
  let padding: Padding;
  if (mode === 'SAME') padding = 'same';
  else if (mode === 'VALID') padding = 'valid';
  else if (mode === 'EXPLICIT') {
    const e = attrInts(node, 'explicit_paddings', []);
    if (e.length !== 8) ctx.fail(`${node.op} node "${node.name}": explicit_paddings must have 8 values`);
    padding = [e[2], e[3], e[4], e[5]];
  } else return ctx.fail(`${node.op} node "${node.name}": padding ${mode} is not supported`);
  return { strides: [s[1], s[2]], dilations: [d[1] ?? 1, d[2] ?? 1], padding };
}

/** The steps that _Fused* ops append after their core op. */
function fusedSteps(ctx: GraphModelContext, node: TfNode, args: string[], core: Step): Step[] {
  const steps = [core];
  const refs = args.map(parseRef).filter((r): r is TfRef => r !== null);
  let next = 0;
  const arg = (): TfRef => {
    if (next >= refs.length) ctx.fail(`${node.op} node "${node.name}" has too few fused arguments`);
    return refs[next++];
  };
  for (const fused of attrStrings(node, 'fused_ops')) {
    if (fused === 'BiasAdd') {
      const bias = ctx.takeConst(arg(), node, 'bias');
      const last = steps[steps.length - 1];
      if (last === core && !core.weights.bias) core.weights.bias = bias;
      else steps.push({ op: 'affine', extra: [], attrs: {}, weights: { shift: bias }, suffix: 'bias' });
    } else if (fused === 'FusedBatchNorm') {
      const [gamma, beta, mean, variance] = ['scale', 'offset', 'mean', 'variance'].map((w) => ctx.takeConst(arg(), node, `batch-norm ${w}`));
      steps.push({ op: 'batchNorm', extra: [], attrs: { epsilon: attrFloat(node, 'epsilon', 1e-4) }, weights: { mean, variance, gamma, beta }, suffix: 'bn' });
    } else if (fused === 'Add' || fused === 'AddV2') {
      steps.push({ op: 'add', extra: [ctx.value(arg())], attrs: {}, weights: {}, suffix: 'add' });
    } else if (fused === 'Prelu') {
      steps.push({ op: 'prelu', extra: [], attrs: {}, weights: { alpha: ctx.takeConst(arg(), node, 'PReLU alpha') }, suffix: 'Prelu' });
    } else if (fused === 'LeakyRelu') {
      steps.push({ op: 'leakyRelu', extra: [], attrs: { alpha: attrFloat(node, 'leakyrelu_alpha', 0.2) }, weights: {}, suffix: 'LeakyRelu' });
    } else if (UNARY[fused] && ACTIVATIONS.has(fused)) {
      steps.push({ op: UNARY[fused], extra: [], attrs: fused === 'Elu' ? { alpha: 1 } : {}, weights: {}, suffix: fused });
    } else {
      ctx.fail(`${node.op} node "${node.name}": fused op ${fused} is not supported`);
    }
  }
  return steps;
}

/** The dense or matmul core of MatMul / _FusedMatMul. */
function matMulCore(ctx: GraphModelContext, node: TfNode, bRef: TfRef): Step {
  const transposeA = attrBool(node, 'transpose_a', false);
  const transposeB = attrBool(node, 'transpose_b', false);
  const b = ctx.constOf(bRef);
  if (b && !transposeA && b.rank === 2) {
    const kernel = transposeB ? tf.transpose(b) : ctx.takeConst(bRef, node, 'kernel');
    return { op: 'dense', extra: [], attrs: {}, weights: { kernel }, suffix: 'matmul' };
  }
  return { op: 'matmul', extra: [ctx.value(bRef)], attrs: { transposeA, transposeB }, weights: {}, suffix: 'matmul' };
}

/** Converts one TF node, recording the internal name of its output in ctx.values. */
export function convertTfNode(ctx: GraphModelContext, node: TfNode): void {
  const refs = ctx.refs(node);
  const ref = (i: number): TfRef => refs[i] ?? ctx.fail(`${node.op} node "${node.name}" lacks input ${i}`);
  const input = (i: number): string => ctx.value(ref(i));
  const set = (name: string): void => {
    ctx.values.set(node.name, name);
  };
  const simple = (op: OpType, attrs: Record<string, AttrValue> = {}, inputs = [input(0)]): void =>
    set(ctx.emit(node.name, op, inputs, attrs, {}, node));

  if (UNARY[node.op]) return simple(UNARY[node.op], node.op === 'Elu' ? { alpha: 1 } : {});
  if (BINARY[node.op]) return simple(BINARY[node.op], {}, [input(0), input(1)]);
  if (REDUCTIONS[node.op]) {
    const axes = ctx.constInts(ref(1), node, 'axes');
    return simple(REDUCTIONS[node.op], { axes, keepDims: attrBool(node, 'keep_dims', false) || attrBool(node, 'keepdims', false) });
  }
  switch (node.op) {
    case 'Const':
    case 'NoOp':
      return;
    case 'Placeholder':
    case 'PlaceholderWithDefault':
      return set(ctx.placeholder(node));
    case 'Identity':
    case 'StopGradient':
    case 'Snapshot':
    case 'PreventGradient':
      return set(input(0));
    case 'Conv2D':
    case 'DepthwiseConv2dNative':
    case '_FusedConv2D':
    case 'FusedDepthwiseConv2dNative': {
      const x = input(0);
      const kernel = ctx.takeConst(ref(1), node, 'filter');
      const core: Step = { op: node.op.includes('Depthwise') ? 'depthwiseConv2d' : 'conv2d', extra: [], attrs: windowAttrs(ctx, node), weights: { kernel }, suffix: 'conv' };
      const fused = node.op.startsWith('_Fused') || node.op.startsWith('Fused');
      const steps = fused ? fusedSteps(ctx, node, node.input.slice(2, 2 + attrInt(node, 'num_args', node.input.length - 2)), core) : [core];
      return set(emitSteps(ctx, node, x, steps));
    }
    case 'MatMul':
    case '_FusedMatMul': {
      const core = matMulCore(ctx, node, ref(1));
      const steps = node.op === '_FusedMatMul' ? fusedSteps(ctx, node, node.input.slice(2, 2 + attrInt(node, 'num_args', node.input.length - 2)), core) : [core];
      return set(emitSteps(ctx, node, input(0), steps));
    }
    case 'BiasAdd':
    case 'BiasAddV1':
      checkNhwc(ctx, node);
      return set(ctx.emit(node.name, 'affine', [input(0)], {}, { shift: ctx.takeConst(ref(1), node, 'bias') }, node));
    case 'LeakyRelu':
      return simple('leakyRelu', { alpha: attrFloat(node, 'alpha', 0.2) });
    case 'Prelu':
      return set(ctx.emit(node.name, 'prelu', [input(0)], {}, { alpha: ctx.takeConst(ref(1), node, 'alpha') }, node));
    case 'Rsqrt': {
      const root = ctx.emit(`${node.name}/sqrt`, 'sqrt', [input(0)], {}, {}, node);
      return set(ctx.emit(node.name, 'reciprocal', [root], {}, {}, node));
    }
    case 'Square':
      return simple('mul', {}, [input(0), input(0)]);
    case 'Softmax':
      return simple('softmax', { axis: -1 });
    case 'LogSoftmax':
      return simple('logSoftmax', { axis: -1 });
    case 'MaxPool':
    case 'AvgPool': {
      const attrs = windowAttrs(ctx, node);
      const k = attrInts(node, 'ksize', [1, 1, 1, 1]);
      if (k[0] !== 1 || k[3] !== 1) ctx.fail(`${node.op} node "${node.name}": pooling over batch or channels is not supported`);
      return simple(node.op === 'MaxPool' ? 'maxPool' : 'avgPool', { kernel: [k[1], k[2]], strides: attrs.strides, padding: attrs.padding });
    }
    case 'ConcatV2': {
      const n = attrInt(node, 'N', refs.length - 1);
      const [axis] = ctx.constInts(ref(n), node, 'axis');
      return simple('concat', { axis }, refs.slice(0, n).map((r) => ctx.value(r)));
    }
    case 'Pad':
    case 'PadV2':
    case 'MirrorPad': {
      const flat = ctx.constInts(ref(1), node, 'paddings');
      const paddings = Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]);
      const mode = node.op === 'MirrorPad' ? attrString(node, 'mode', 'REFLECT').toLowerCase() : 'constant';
      const value = node.op === 'PadV2' ? (ctx.constOf(ref(2))?.dataSync()[0] ?? 0) : 0;
      return simple('pad', { paddings: paddings as unknown as AttrValue, mode, value });
    }
    case 'Reshape':
      return simple('reshape', { shape: ctx.constInts(ref(1), node, 'shape') });
    case 'Squeeze': {
      const axes = attrInts(node, 'squeeze_dims', attrInts(node, 'axis', []));
      return simple('squeeze', axes.length > 0 ? { axes } : {});
    }
    case 'ExpandDims':
      return simple('expandDims', { axis: ctx.constInts(ref(1), node, 'axis')[0] });
    case 'Slice':
      return simple('slice', { begin: ctx.constInts(ref(1), node, 'begin'), size: ctx.constInts(ref(2), node, 'size') });
    case 'ResizeBilinear':
    case 'ResizeNearestNeighbor':
      return simple('resize', {
        size: ctx.constInts(ref(1), node, 'size'), method: node.op === 'ResizeBilinear' ? 'bilinear' : 'nearest',
        alignCorners: attrBool(node, 'align_corners', false), halfPixelCenters: attrBool(node, 'half_pixel_centers', false),
      });
    case 'Cast': {
      const to = node.attr.DstT as { type?: string } | undefined;
      if (to?.type !== 'DT_FLOAT') ctx.fail(`Cast node "${node.name}": casts to ${to?.type ?? 'an unknown type'} are not supported`);
      return set(input(0));
    }
    case 'Transpose':
      return simple('transpose', { perm: ctx.constInts(ref(1), node, 'perm') });
    case 'FusedBatchNorm':
    case 'FusedBatchNormV2':
    case 'FusedBatchNormV3': {
      checkNhwc(ctx, node);
      if (attrBool(node, 'is_training', false)) ctx.fail(`${node.op} node "${node.name}" is in training mode`);
      const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => ctx.takeConst(ref(i), node, 'batch-norm parameter'));
      return set(ctx.emit(node.name, 'batchNorm', [input(0)], { epsilon: attrFloat(node, 'epsilon', 1e-4) }, { mean, variance, gamma, beta }, node));
    }
    default:
      ctx.fail(`unsupported op ${node.op} (node "${node.name}")`);
  }
}
