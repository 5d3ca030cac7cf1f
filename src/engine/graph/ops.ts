/** Implementations of the internal ops with plain, differentiable TF.js ops (no fused kernels). */
import * as tf from '@tensorflow/tfjs-core';
// Gradient definitions are registered separately from the ops in tfjs-core.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type { AttrValue, GraphNode, OpType, Padding } from './ir';
import { type CubicCoordinateMode, cubicWeights } from './cubic';
import { conv2dInputGradFriendly, conv2dTransposeInputGradFriendly, depthwiseConv2dInputGradFriendly } from '../kernels/convolution';
import { maxPoolInputGradFriendly } from '../kernels/pooling';
import { denseInputGradFriendly } from '../kernels/dense';
import {
  affineInputGradFriendly, batchNormInputGradFriendly, clipInputGradFriendly, leakyReluInputGradFriendly, relu6InputGradFriendly, reluInputGradFriendly,
} from '../kernels/activations';

/** Computes one node's output from its input tensors. */
export type OpImpl = (inputs: tf.Tensor[], node: GraphNode) => tf.Tensor;

const num = (v: AttrValue, fallback: number): number => (typeof v === 'number' ? v : fallback);
const pair = (v: AttrValue, fallback: [number, number]): [number, number] =>
  Array.isArray(v) && v.length >= 2 ? [Number(v[0]), Number(v[1])] : typeof v === 'number' ? [v, v] : fallback;
const bool = (v: AttrValue, fallback: boolean): boolean => (typeof v === 'boolean' ? v : fallback);

/** Converts a Padding attribute into what tfjs conv/pool ops take. */
function tfPadding(p: AttrValue): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  if (p === 'same' || p === 'valid') return p;
  if (p == null) return 'valid';
  const [t, b, l, r] = p as Padding as number[];
  if (t === 0 && b === 0 && l === 0 && r === 0) return 'valid';
  return [[0, 0], [t, b], [l, r], [0, 0]];
}

/** Pads explicitly (pooling ops in tfjs take no explicit padding) with the given fill value. */
function padSpatial(x: tf.Tensor4D, p: [number, number, number, number], value: number): tf.Tensor4D {
  const [t, b, l, r] = p;
  if (t + b + l + r === 0) return x;
  return tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]], value);
}

/** Extra bottom/right padding so that a pooling window covers the tail (PyTorch ceil_mode). */
function ceilModeExtra(size: number, k: number, s: number, before: number, after: number): number {
  const padded = size + before + after;
  const floorOut = Math.floor((padded - k) / s) + 1;
  let ceilOut = Math.ceil((padded - k) / s) + 1;
  // PyTorch drops a last window that would start entirely in the right padding.
  if ((ceilOut - 1) * s >= size + before) ceilOut -= 1;
  return Math.max(0, (ceilOut - floorOut) * s);
}

function windowPadding(x: tf.Tensor4D, node: GraphNode, k: [number, number], s: [number, number]): [number, number, number, number] | null {
  const p = node.attrs.padding;
  if (p === 'same' || p === 'valid' || p == null) {
    if (!bool(node.attrs.ceilMode, false)) return null;
    const base: [number, number, number, number] = [0, 0, 0, 0];
    if (p === 'same') return null;
    return addCeil(x, base, k, s);
  }
  const explicit = [...(p as number[])] as [number, number, number, number];
  return bool(node.attrs.ceilMode, false) ? addCeil(x, explicit, k, s) : explicit;
}

function addCeil(x: tf.Tensor4D, p: [number, number, number, number], k: [number, number], s: [number, number]): [number, number, number, number] {
  const [, h, w] = x.shape;
  return [p[0], p[1] + ceilModeExtra(h, k[0], s[0], p[0], p[1]), p[2], p[3] + ceilModeExtra(w, k[1], s[1], p[2], p[3])];
}

function maxPool(x: tf.Tensor4D, node: GraphNode): tf.Tensor {
  const k = pair(node.attrs.kernel, [2, 2]);
  const s = pair(node.attrs.strides, k);
  const p = windowPadding(x, node, k, s);
  return maxPoolInputGradFriendly(x, k, s, p ?? (node.attrs.padding as 'same' | 'valid') ?? 'valid');
}

/** TF's 'same' padding made explicit: the total padding per axis, the odd pixel at the bottom/right. */
function samePadding(x: tf.Tensor4D, k: [number, number], s: [number, number]): [number, number, number, number] {
  const total = (size: number, kk: number, ss: number) => Math.max((Math.ceil(size / ss) - 1) * ss + kk - size, 0);
  const th = total(x.shape[1], k[0], s[0]);
  const tw = total(x.shape[2], k[1], s[1]);
  return [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
}

function avgPool(x: tf.Tensor4D, node: GraphNode): tf.Tensor {
  const k = pair(node.attrs.kernel, [2, 2]);
  const s = pair(node.attrs.strides, k);
  // tfjs's AvgPool gradient divides by the full window even where 'same' padding shortens it, which
  // disagrees with its own forward pass at the edges: padding explicitly keeps both consistent.
  const p = node.attrs.padding === 'same' ? samePadding(x, k, s) : windowPadding(x, node, k, s);
  if (p === null) return tf.avgPool(x, k, s, (node.attrs.padding as 'same' | 'valid') ?? 'valid');
  const summed = tf.mul(tf.avgPool(padSpatial(x, p, 0), k, s, 'valid'), k[0] * k[1]);
  const includePad = bool(node.attrs.countIncludePad, false);
  // The divisor counts real pixels (and, with count_include_pad, the explicit padding but never the ceil-mode tail).
  const ones = tf.ones([1, x.shape[1], x.shape[2], 1]) as tf.Tensor4D;
  const explicit = Array.isArray(node.attrs.padding) ? (node.attrs.padding as number[]) : [0, 0, 0, 0];
  const countSource = includePad
    ? padSpatial(padSpatial(ones, explicit as [number, number, number, number], 1), [0, p[1] - explicit[1], 0, p[3] - explicit[3]], 0)
    : padSpatial(ones, p, 0);
  const counts = tf.mul(tf.avgPool(countSource, k, s, 'valid'), k[0] * k[1]);
  return tf.div(summed, counts);
}

function withBias(y: tf.Tensor, node: GraphNode): tf.Tensor {
  return node.weights.bias ? tf.add(y, node.weights.bias) : y;
}

function conv2d(x: tf.Tensor4D, node: GraphNode): tf.Tensor {
  const kernel = node.weights.kernel as tf.Tensor4D;
  const strides = pair(node.attrs.strides, [1, 1]);
  const dilations = pair(node.attrs.dilations, [1, 1]);
  const pad = tfPadding(node.attrs.padding);
  const groups = num(node.attrs.groups, 1);
  const bias = node.weights.bias;
  if (groups === 1) return conv2dInputGradFriendly(x, kernel, strides, pad, dilations, bias);
  const inC = x.shape[3];
  const outC = kernel.shape[3];
  if (groups === inC && kernel.shape[2] === 1) {
    // A grouped conv with one input channel per group is a depthwise conv with multiplier outC/inC.
    const mult = outC / inC;
    const dwKernel = tf.reshape(kernel, [kernel.shape[0], kernel.shape[1], inC, mult]) as tf.Tensor4D;
    return depthwiseConv2dInputGradFriendly(x, dwKernel, strides, pad, dilations, bias);
  }
  const xs = tf.split(x, groups, 3);
  const ks = tf.split(kernel, groups, 3);
  const ys = xs.map((xi, i) => conv2dInputGradFriendly(xi as tf.Tensor4D, ks[i] as tf.Tensor4D, strides, pad, dilations));
  return withBias(tf.concat(ys, 3), node);
}

function dense(x: tf.Tensor, node: GraphNode): tf.Tensor {
  const kernel = node.weights.kernel as tf.Tensor2D;
  if (x.rank === 2) return withBias(denseInputGradFriendly(x as tf.Tensor2D, kernel), node);
  const lead = x.shape.slice(0, -1);
  const y = denseInputGradFriendly(tf.reshape(x, [-1, x.shape[x.rank - 1]]) as tf.Tensor2D, kernel);
  return withBias(tf.reshape(y, [...lead, kernel.shape[1]]), node);
}

function affine(x: tf.Tensor, node: GraphNode): tf.Tensor {
  if (!node.weights.scale && !node.weights.shift) return x;
  return affineInputGradFriendly(x, node.weights.scale, node.weights.shift);
}

function batchNorm(x: tf.Tensor, node: GraphNode): tf.Tensor {
  const { mean, variance, gamma, beta } = node.weights;
  const eps = num(node.attrs.epsilon, 1e-3);
  return batchNormInputGradFriendly(x, mean, variance, beta, gamma, eps);
}

/** Normalises x over `axes` (instance norm: H, W; layer norm: the given axes), then gamma and beta. */
function normalize(x: tf.Tensor, node: GraphNode, axes: number[]): tf.Tensor {
  const eps = num(node.attrs.epsilon, 1e-5);
  const { mean, variance } = tf.moments(x, axes, true);
  let y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
  if (node.weights.gamma) y = tf.mul(y, node.weights.gamma);
  if (node.weights.beta) y = tf.add(y, node.weights.beta);
  return y;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function slice(x: tf.Tensor, node: GraphNode): tf.Tensor {
  const begin = node.attrs.begin as number[];
  const size = node.attrs.size as number[];
  const strides = node.attrs.strides as number[] | undefined;
  if (!strides || strides.every((s) => s === 1)) return tf.slice(x, begin, size);
  const end = begin.map((b, i) => (size[i] === -1 ? x.shape[i] : b + size[i] * 1));
  return tf.stridedSlice(x, begin, end, strides);
}

function pad(x: tf.Tensor, node: GraphNode): tf.Tensor {
  const paddings = node.attrs.paddings as unknown as Array<[number, number]>;
  const mode = (node.attrs.mode as string) ?? 'constant';
  if (mode === 'constant') return tf.pad(x, paddings, num(node.attrs.value, 0));
  // Slices, reverses and concats rather than tf.mirrorPad, whose gradient drops the mirrored contributions.
  const skip = mode === 'reflect' ? 1 : 0;
  return tf.tidy(() => paddings.reduce((y: tf.Tensor, [before, after], axis) => {
    if (before === 0 && after === 0) return y;
    const n = y.shape[axis];
    const part = (start: number, count: number) => {
      const begin = y.shape.map((_, i) => (i === axis ? start : 0));
      const size = y.shape.map((d, i) => (i === axis ? count : d));
      return tf.reverse(tf.slice(y, begin, size), axis);
    };
    const pieces = [...(before ? [part(skip, before)] : []), y, ...(after ? [part(n - skip - after, after)] : [])];
    return tf.concat(pieces, axis);
  }, x));
}

/**
 * Interpolation weights [out, in] of one axis with the forward semantics of tf.image.resizeBilinear /
 * resizeNearestNeighbor, but with `ratio` (in/out) in place of the size ratio (resize by a scale factor).
 */
function resizeWeights(inSize: number, outSize: number, nearest: boolean, align: boolean, half: boolean, ratio?: number): Float32Array {
  const w = new Float32Array(outSize * inSize);
  const scale = align && outSize > 1 ? (inSize - 1) / (outSize - 1) : ratio ?? inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    if (nearest) {
      const src = half ? (o + 0.5) * scale : o * scale;
      const i = Math.max(0, Math.min(inSize - 1, align ? Math.round(src) : Math.floor(src)));
      w[o * inSize + i] = 1;
    } else {
      const src = half ? (o + 0.5) * scale - 0.5 : o * scale;
      const lo = Math.min(inSize - 1, Math.max(0, Math.floor(src)));
      const hi = Math.min(inSize - 1, Math.max(0, Math.ceil(src)));
      const frac = src - lo;
      w[o * inSize + lo] += 1 - frac;
      w[o * inSize + hi] += frac;
    }
  }
  return w;
}

/** Resizes axis 0 of x [in, ...rest] with weights [out, in]: one matrix product (exact gradients). */
function resizeLeadingAxis(x: tf.Tensor, weights: Float32Array, outSize: number): tf.Tensor {
  const [inSize, ...rest] = x.shape;
  const y = tf.matMul(tf.tensor2d(weights, [outSize, inSize]), tf.reshape(x, [inSize, -1]));
  return tf.reshape(y, [outSize, ...rest]);
}

function resize(x: tf.Tensor4D, node: GraphNode): tf.Tensor {
  const [, h, w] = x.shape;
  const [oh, ow] = pair(node.attrs.size, [h, w]);
  const align = bool(node.attrs.alignCorners, false);
  const half = bool(node.attrs.halfPixelCenters, !align);
  const nearest = node.attrs.method === 'nearest';
  const ratio = Array.isArray(node.attrs.ratio) ? (node.attrs.ratio as number[]) : undefined;
  if (node.attrs.method === 'cubic') {
    // No cubic resize in TF.js: the same separable matrix products, with cubic taps.
    const mode = (node.attrs.coordinateMode as CubicCoordinateMode | undefined) ?? 'half_pixel';
    const axis = (inSize: number, outSize: number, r?: number) => cubicWeights({
      inSize, outSize, mode, a: num(node.attrs.cubicCoeffA, -0.75), excludeOutside: bool(node.attrs.excludeOutside, false), ratio: r,
    });
    return resizeSeparable(x, axis(h, oh, ratio?.[0]), oh, axis(w, ow, ratio?.[1]), ow);
  }
  if (!ratio) return nearest ? tf.image.resizeNearestNeighbor(x, [oh, ow], align, half) : tf.image.resizeBilinear(x, [oh, ow], align, half);
  // tf.image.resize* derive coordinates from the sizes; a fractional scale factor needs its own weights.
  return resizeSeparable(x, resizeWeights(h, oh, nearest, align, half, ratio[0]), oh, resizeWeights(w, ow, nearest, align, half, ratio[1]), ow);
}

/** Resizes H then W of x [N,H,W,C] with [out, in] weight matrices. */
function resizeSeparable(x: tf.Tensor4D, rows: Float32Array, oh: number, cols: Float32Array, ow: number): tf.Tensor {
  return tf.tidy(() => {
    let y: tf.Tensor = tf.transpose(x, [1, 0, 2, 3]); // [H, N, W, C]
    y = resizeLeadingAxis(y, rows, oh);
    y = tf.transpose(y, [2, 1, 0, 3]); // [W, N, oh, C]
    y = resizeLeadingAxis(y, cols, ow);
    return tf.transpose(y, [1, 2, 0, 3]);
  });
}

const unary = (f: (x: tf.Tensor) => tf.Tensor): OpImpl => ([x]) => f(x);
const binary = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpImpl => ([a, b]) => f(a, b);

/** The implementation of every op in the IR. */
export const OP_IMPLS: Record<OpType, OpImpl> = {
  conv2d: ([x], n) => conv2d(x as tf.Tensor4D, n),
  depthwiseConv2d: ([x], n) =>
    depthwiseConv2dInputGradFriendly(x as tf.Tensor4D, n.weights.kernel as tf.Tensor4D, pair(n.attrs.strides, [1, 1]),
      tfPadding(n.attrs.padding), pair(n.attrs.dilations, [1, 1]), n.weights.bias),
  conv2dTranspose: ([x], n) => {
    const xs = x as tf.Tensor4D;
    const k = n.weights.kernel as tf.Tensor4D;
    const [sh, sw] = pair(n.attrs.strides, [1, 1]);
    const [t, b, l, r] = (Array.isArray(n.attrs.padding) ? n.attrs.padding : [0, 0, 0, 0]) as number[];
    const [oph, opw] = pair(n.attrs.outputPadding, [0, 0]);
    // Full transposed conv, then crop the ONNX/PyTorch pads (output_padding extends the bottom/right).
    const fullH = (xs.shape[1] - 1) * sh + k.shape[0] + oph;
    const fullW = (xs.shape[2] - 1) * sw + k.shape[1] + opw;
    const full = conv2dTransposeInputGradFriendly(xs, k, [xs.shape[0], fullH, fullW, k.shape[2]], [sh, sw]);
    const cropped = tf.slice(full, [0, t, l, 0], [-1, fullH - t - b, fullW - l - r, -1]);
    return withBias(cropped, n);
  },
  maxPool: ([x], n) => maxPool(x as tf.Tensor4D, n),
  avgPool: ([x], n) => avgPool(x as tf.Tensor4D, n),
  dense: ([x], n) => dense(x, n),
  matmul: ([a, b], n) => tf.matMul(a, b, bool(n.attrs.transposeA, false), bool(n.attrs.transposeB, false)),
  affine: ([x], n) => affine(x, n),
  batchNorm: ([x], n) => batchNorm(x, n),
  instanceNorm: ([x], n) => normalize(x, n, [1, 2]),
  layerNorm: ([x], n) => normalize(x, n, n.attrs.axes as number[]),
  relu: unary(reluInputGradFriendly),
  relu6: unary(relu6InputGradFriendly),
  clip: ([x], n) => clipInputGradFriendly(x, num(n.attrs.min, -3.4e38), num(n.attrs.max, 3.4e38)),
  leakyRelu: ([x], n) => leakyReluInputGradFriendly(x, num(n.attrs.alpha, 0.2)),
  prelu: ([x], n) => tf.prelu(x, n.weights.alpha),
  elu: ([x], n) => {
    const alpha = num(n.attrs.alpha, 1);
    return alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(x), 1)));
  },
  selu: unary(tf.selu),
  sigmoid: unary(tf.sigmoid),
  hardSigmoid: ([x], n) => clipInputGradFriendly(tf.add(tf.mul(x, num(n.attrs.alpha, 0.2)), num(n.attrs.beta, 0.5)), 0, 1),
  hardSwish: ([x]) => tf.mul(x, tf.div(relu6InputGradFriendly(tf.add(x, 3)), 6)),
  swish: ([x]) => tf.mul(x, tf.sigmoid(x)),
  gelu: ([x]) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))),
  tanh: unary(tf.tanh),
  softplus: unary(tf.softplus),
  erf: unary(tf.erf),
  exp: unary(tf.exp),
  log: unary(tf.log),
  softmax: ([x], n) => {
    const axis = normAxis(num(n.attrs.axis, -1), x.rank);
    if (axis === x.rank - 1) return tf.softmax(x);
    return tf.div(tf.exp(tf.sub(x, tf.max(x, axis, true))), tf.sum(tf.exp(tf.sub(x, tf.max(x, axis, true))), axis, true));
  },
  logSoftmax: ([x], n) => tf.logSoftmax(x, normAxis(num(n.attrs.axis, -1), x.rank)),
  identity: unary((x) => tf.clone(x)),
  globalAvgPool: ([x], n) => tf.mean(x, [1, 2], bool(n.attrs.keepDims, false)),
  globalMaxPool: ([x], n) => tf.max(x, [1, 2], bool(n.attrs.keepDims, false)),
  mean: ([x], n) => tf.mean(x, n.attrs.axes as number[], bool(n.attrs.keepDims, false)),
  sum: ([x], n) => tf.sum(x, n.attrs.axes as number[], bool(n.attrs.keepDims, false)),
  max: ([x], n) => tf.max(x, n.attrs.axes as number[], bool(n.attrs.keepDims, false)),
  add: binary(tf.add),
  sub: binary(tf.sub),
  mul: binary(tf.mul),
  div: binary(tf.div),
  pow: binary(tf.pow),
  maximum: binary(tf.maximum),
  minimum: binary(tf.minimum),
  sqrt: unary(tf.sqrt),
  neg: unary(tf.neg),
  abs: unary(tf.abs),
  reciprocal: unary(tf.reciprocal),
  reshape: ([x], n) => tf.reshape(x, n.attrs.shape as number[]),
  flatten: ([x]) => tf.reshape(x, [x.shape[0], -1]),
  transpose: ([x], n) => tf.transpose(x, n.attrs.perm as number[]),
  squeeze: ([x], n) => tf.squeeze(x, n.attrs.axes as number[] | undefined),
  expandDims: ([x], n) => tf.expandDims(x, num(n.attrs.axis, 0)),
  concat: (xs, n) => tf.concat(xs, normAxis(num(n.attrs.axis, -1), xs[0].rank)),
  pad: ([x], n) => pad(x, n),
  slice: ([x], n) => slice(x, n),
  resize: ([x], n) => resize(x as tf.Tensor4D, n),
  const: (_inputs, n) => n.weights.value,
};
