/** ONNX → IR converters of the layer ops: convolutions, pooling, normalisation, dense, resize, pad. */
import { BATCH, broadcastTo, transposeConst } from './onnxConst';
import {
  type Activation, type Attrs, type Constant, type Dim, floatWeight, identityPerm, isIdentity, NHWC_PERM, OnnxConverter,
  type WeightData,
} from './onnxConverter';
import { type ConstTensor, numel } from './onnxTensors';

/** Converts the current node of `cx`. */
export type OpConverter = (cx: OnnxConverter, at: Attrs) => void;

type Pads = [number, number, number, number];

function spatial(cx: OnnxConverter, x: Activation): [number, number] {
  const [, , h, w] = x.shape;
  if (typeof h !== 'number' || typeof w !== 'number') cx.fail('the spatial size of its input is not known at load time');
  return [h, w];
}

function pairAttr(at: Attrs, name: string, fallback: number): [number, number] {
  const v = at.ints(name);
  return v && v.length >= 2 ? [v[0], v[1]] : [fallback, fallback];
}

/** Explicit [top, bottom, left, right] pads from ONNX pads / auto_pad. */
function windowPads(cx: OnnxConverter, at: Attrs, size: [number, number], k: [number, number], s: [number, number],
  d: [number, number]): Pads {
  const mode = at.string('auto_pad', 'NOTSET');
  if (mode === 'NOTSET') {
    const p = at.ints('pads') ?? [0, 0, 0, 0];
    if (p.length !== 4) cx.fail(`pads must have 4 values for a 2-D window, got ${p.length}`);
    if (p.some((v) => v < 0)) cx.fail('negative pads are not supported');
    return [p[0], p[2], p[1], p[3]];
  }
  if (mode === 'VALID') return [0, 0, 0, 0];
  if (mode !== 'SAME_UPPER' && mode !== 'SAME_LOWER') cx.fail(`unknown auto_pad "${mode}"`);
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    const total = Math.max(0, (Math.ceil(size[i] / s[i]) - 1) * s[i] + (k[i] - 1) * d[i] + 1 - size[i]);
    const small = Math.floor(total / 2);
    out.push(...(mode === 'SAME_UPPER' ? [small, total - small] : [total - small, small]));
  }
  return out as Pads;
}

function windowOut(size: number, k: number, s: number, d: number, before: number, after: number, ceil: boolean): number {
  const span = size + before + after - ((k - 1) * d + 1);
  if (!ceil) return Math.floor(span / s) + 1;
  let out = Math.ceil(span / s) + 1;
  // PyTorch (and ONNX since opset 19) drop a last window that starts in the right padding.
  if ((out - 1) * s >= size + before) out -= 1;
  return out;
}

const conv: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  if (x.shape.length !== 4) cx.fail(`only 2-D convolutions (4-D inputs) are supported, got rank ${x.shape.length}`);
  const w = cx.constant(1, 'the weight');
  if (!w || w.dims.length !== 4) cx.fail('the weight must be a constant 4-D tensor');
  const bias = cx.constant(2, 'the bias');
  const [outC, inPerGroup, kh, kw] = w.dims;
  const inC = x.shape[1];
  const groups = at.int('group', 1);
  if (typeof inC === 'number' && inC !== inPerGroup * groups) {
    cx.fail(`weight expects ${inPerGroup * groups} input channels, the input has ${inC}`);
  }
  const size = spatial(cx, x);
  const s = pairAttr(at, 'strides', 1);
  const d = pairAttr(at, 'dilations', 1);
  if (Math.max(...s) > 1 && Math.max(...d) > 1) cx.fail('strides and dilations both > 1 are not supported');
  const pads = windowPads(cx, at, size, [kh, kw], s, d);
  const weights: Record<string, WeightData> = bias ? { bias: floatWeight(bias) } : {};
  const attrs = { strides: s, dilations: d, padding: pads };
  const inRef = cx.nhwc(x);
  let ref: string;
  if (groups > 1 && inPerGroup === 1 && groups === inC) {
    // One input channel per group: a depthwise convolution with multiplier outC / inC.
    const k = transposeConst(w, [2, 3, 1, 0]);
    ref = cx.emit('depthwiseConv2d', [inRef], attrs,
      { ...weights, kernel: floatWeight({ ...k, dims: [kh, kw, groups, outC / groups] }) });
  } else {
    ref = cx.emit('conv2d', [inRef], { ...attrs, groups }, { ...weights, kernel: floatWeight(transposeConst(w, [2, 3, 1, 0])) });
  }
  const oh = windowOut(size[0], kh, s[0], d[0], pads[0], pads[1], false);
  const ow = windowOut(size[1], kw, s[1], d[1], pads[2], pads[3], false);
  cx.output(OnnxConverter.act(ref, [x.shape[0], outC, oh, ow], NHWC_PERM));
};

const convTranspose: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  if (x.shape.length !== 4) cx.fail('only 2-D transposed convolutions are supported');
  const w = cx.constant(1, 'the weight');
  if (!w || w.dims.length !== 4) cx.fail('the weight must be a constant 4-D tensor');
  if (at.int('group', 1) !== 1) cx.fail('grouped transposed convolutions are not supported');
  const d = pairAttr(at, 'dilations', 1);
  if (d[0] !== 1 || d[1] !== 1) cx.fail('dilated transposed convolutions are not supported');
  const bias = cx.constant(2, 'the bias');
  const [, outC, kh, kw] = w.dims;
  const size = spatial(cx, x);
  const s = pairAttr(at, 'strides', 1);
  const outPad = pairAttr(at, 'output_padding', 0);
  const full = [0, 1].map((i) => (size[i] - 1) * s[i] + [kh, kw][i] + outPad[i]);
  let pads: Pads;
  const outputShape = at.ints('output_shape');
  const mode = at.string('auto_pad', 'NOTSET');
  if (outputShape || mode === 'SAME_UPPER' || mode === 'SAME_LOWER') {
    const target = outputShape ? outputShape.slice(-2) : [size[0] * s[0], size[1] * s[1]];
    const p: number[] = [];
    for (let i = 0; i < 2; i++) {
      const total = full[i] - target[i];
      if (total < 0) cx.fail('output_shape larger than the full transposed convolution is not supported');
      const half = Math.floor(total / 2);
      p.push(...(mode === 'SAME_UPPER' ? [half, total - half] : [total - half, half]));
    }
    pads = p as Pads;
  } else {
    pads = windowPads(cx, at, size, [kh, kw], s, d);
  }
  const weights: Record<string, WeightData> = { kernel: floatWeight(transposeConst(w, [2, 3, 1, 0])) };
  if (bias) weights.bias = floatWeight(bias);
  const ref = cx.emit('conv2dTranspose', [cx.nhwc(x)], { strides: s, padding: pads, outputPadding: outPad }, weights);
  const oh = full[0] - pads[0] - pads[1];
  const ow = full[1] - pads[2] - pads[3];
  cx.output(OnnxConverter.act(ref, [x.shape[0], outC, oh, ow], NHWC_PERM));
};

function pool(op: 'maxPool' | 'avgPool'): OpConverter {
  return (cx: OnnxConverter, at: Attrs) => {
    const x = cx.act(0);
    if (x.shape.length !== 4) cx.fail('only 2-D pooling (4-D inputs) is supported');
    if (op === 'maxPool') cx.requireUnused(1, 'Indices');
    const k = pairAttr(at, 'kernel_shape', 1);
    const s = pairAttr(at, 'strides', 1);
    const d = pairAttr(at, 'dilations', 1);
    if (d[0] !== 1 || d[1] !== 1) cx.fail('dilated pooling is not supported');
    const size = spatial(cx, x);
    const pads = windowPads(cx, at, size, k, s, d);
    const ceil = at.int('ceil_mode', 0) === 1;
    const attrs = {
      kernel: k, strides: s, ceilMode: ceil,
      padding: pads.every((p) => p === 0) ? 'valid' : pads,
      ...(op === 'avgPool' ? { countIncludePad: at.int('count_include_pad', 0) === 1 } : {}),
    };
    const ref = cx.emit(op, [cx.nhwc(x)], attrs);
    const oh = windowOut(size[0], k[0], s[0], 1, pads[0], pads[1], ceil);
    const ow = windowOut(size[1], k[1], s[1], 1, pads[2], pads[3], ceil);
    cx.output(OnnxConverter.act(ref, [x.shape[0], x.shape[1], oh, ow], NHWC_PERM));
  };
}

function globalPool(op: 'globalAvgPool' | 'globalMaxPool'): OpConverter {
  return (cx: OnnxConverter) => {
    const x = cx.act(0);
    const ref = cx.emit(op, [cx.nhwc(x)], { keepDims: true });
    cx.output(OnnxConverter.act(ref, [x.shape[0], x.shape[1], 1, 1], NHWC_PERM));
  };
}

/** A per-channel (ONNX axis 1) vector shaped to broadcast against `x` in its internal layout. */
function channelVector(cx: OnnxConverter, x: Activation, v: Float32Array): { data: Float32Array; shape: number[] } {
  const rank = x.shape.length;
  const dims = [1, v.length, ...new Array<number>(Math.max(0, rank - 2)).fill(1)];
  const internal = x.perm.map((p) => dims[p]);
  while (internal.length > 1 && internal[0] === 1) internal.shift();
  if (rank < 2) cx.fail('expected an input with a channel axis');
  return { data: v, shape: internal };
}

const batchNormalization: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  if (at.int('training_mode', 0) === 1) cx.fail('training-mode batch normalization is not supported');
  for (let i = 1; i < 5; i++) cx.requireUnused(i, `running statistic #${i}`);
  const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => cx.constant(i, 'a batch-norm parameter'));
  if (!gamma || !beta || !mean || !variance) cx.fail('scale, bias, mean and variance are required');
  const eps = at.float('epsilon', 1e-5);
  const c = gamma.data.length;
  if ([beta, mean, variance].some((t) => t.data.length !== c)) cx.fail('parameters of different lengths');
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    scale[i] = gamma.data[i] / Math.sqrt(variance.data[i] + eps);
    shift[i] = beta.data[i] - mean.data[i] * scale[i];
  }
  const ref = cx.emit('affine', [x.ref], {}, { scale: channelVector(cx, x, scale), shift: channelVector(cx, x, shift) });
  cx.output(OnnxConverter.act(ref, x.shape, x.perm));
};

const instanceNormalization: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const gamma = cx.constant(1, 'the scale');
  const beta = cx.constant(2, 'the bias');
  const weights = { ...(gamma ? { gamma: floatWeight(gamma) } : {}), ...(beta ? { beta: floatWeight(beta) } : {}) };
  const ref = cx.emit('instanceNorm', [cx.nhwc(x)], { epsilon: at.float('epsilon', 1e-5) }, weights);
  cx.output(OnnxConverter.act(ref, x.shape, NHWC_PERM));
};

function scaled(t: ConstTensor, k: number): ConstTensor {
  return k === 1 ? t : { ...t, data: Float32Array.from(t.data, (v) => v * k) };
}

/** The activation seen through a transpose of its last two axes (no data moves). */
function swapLastTwo(a: Activation): Activation {
  const r = a.shape.length;
  const swap = (q: number) => (q === r - 1 ? r - 2 : q === r - 2 ? r - 1 : q);
  const shape = a.shape.map((_, i) => a.shape[swap(i)]);
  return OnnxConverter.act(a.ref, shape, a.perm.map(swap));
}

/** An IR tensor holding `a` (rank ≥ 2) in source layout, or its transpose when that is what is stored. */
function matrixOperand(cx: OnnxConverter, a: Activation): { ref: string; transposed: boolean } {
  const r = a.shape.length;
  const swapped = swapLastTwo(a);
  if (r >= 2 && !isIdentity(a.perm) && isIdentity(swapped.perm)) return { ref: a.ref, transposed: true };
  return { ref: cx.withPerm(a, identityPerm(r)), transposed: false };
}

const gemm: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  let a = cx.act(0);
  if (a.shape.length !== 2) cx.fail(`expected a 2-D input, got rank ${a.shape.length}`);
  const b = cx.constant(1, 'B');
  if (!b || b.dims.length !== 2) cx.fail('B must be a constant matrix');
  const c = cx.constant(2, 'C');
  if (at.int('transA', 0) === 1) a = swapLastTwo(a);
  const kernel = scaled(at.int('transB', 0) === 1 ? transposeConst(b, [1, 0]) : b, at.float('alpha', 1));
  const [inF, outF] = kernel.dims;
  if (typeof a.shape[1] === 'number' && a.shape[1] !== inF) cx.fail(`B has ${inF} rows, the input ${a.shape[1]} columns`);
  const weights: Record<string, WeightData> = { kernel: floatWeight(kernel) };
  if (c) {
    if (numel(c.dims) !== outF && numel(c.dims) !== 1) cx.fail('only a C broadcastable to [M] is supported');
    weights.bias = floatWeight(scaled(broadcastTo({ ...c, dims: [numel(c.dims)] }, [outF]), at.float('beta', 1)));
  }
  const ref = cx.emit('dense', [cx.withPerm(a, [0, 1])], {}, weights);
  cx.output(OnnxConverter.act(ref, [a.shape[0], outF], [0, 1]));
};

const matMul: OpConverter = (cx: OnnxConverter) => {
  const a = cx.input(0);
  const b = cx.input(1);
  if (!a || !b) cx.fail('two inputs are required');
  if (a.kind === 'act' && b.kind === 'const' && b.t.dims.length === 2) {
    const ref = cx.emit('dense', [cx.withPerm(a, identityPerm(a.shape.length))], {}, { kernel: floatWeight(b.t) });
    const shape = [...a.shape.slice(0, -1), b.t.dims[1]];
    cx.output(OnnxConverter.act(ref, shape, identityPerm(shape.length)));
    return;
  }
  const operand = (v: Activation | Constant, suffix: string) =>
    v.kind === 'act' ? matrixOperand(cx, v) : { ref: cx.constPermuted(v.t, identityPerm(v.t.dims.length), suffix), transposed: false };
  const sa: Dim[] = a.kind === 'act' ? a.shape : a.t.dims;
  const sb: Dim[] = b.kind === 'act' ? b.shape : b.t.dims;
  if (sa.length < 2 || sb.length < 2) cx.fail('1-D matrix products are not supported');
  const [oa, ob] = [operand(a, 'a'), operand(b, 'b')];
  const out = cx.emit('matmul', [oa.ref, ob.ref], { transposeA: oa.transposed, transposeB: ob.transposed });
  const lead = sa.length >= sb.length ? sa.slice(0, -2) : sb.slice(0, -2);
  const shape = [...lead, sa[sa.length - 2], sb[sb.length - 1]];
  cx.output(OnnxConverter.act(out, shape, identityPerm(shape.length)));
};

/** Resize (opset 10+) and Upsample (opset 7–9). */
const resize: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  if (x.shape.length !== 4) cx.fail('only 4-D (NCHW) resizing is supported');
  const [h, w] = spatial(cx, x);
  const legacy = cx.node.opType === 'Upsample' || cx.opset < 11;
  let scales = legacy ? (cx.node.input.length > 1 ? cx.constant(1, 'scales')?.data : undefined) ?? at.floats('scales')
    : cx.constant(2, 'scales')?.data;
  const sizesConst = legacy ? undefined : cx.constant(3, 'sizes');
  const sizes = sizesConst ? Array.from(sizesConst.data) : undefined;
  if (scales && scales.length === 0) scales = undefined;
  let size: [number, number];
  let ratio: [number, number] | undefined;
  if (sizes && sizes.length === 4) {
    const sameBatch = sizes[0] === BATCH || sizes[0] === x.shape[0] || x.shape[0] === 'N';
    if (!sameBatch || sizes[1] !== x.shape[1] || sizes[2] < 1 || sizes[3] < 1) cx.fail('only spatial resizing is supported');
    size = [sizes[2], sizes[3]];
  } else if (scales && scales.length === 4) {
    if (scales[0] !== 1 || scales[1] !== 1) cx.fail('only spatial resizing is supported');
    size = [Math.floor(h * scales[2]), Math.floor(w * scales[3])];
    // Coordinates follow the scale factor itself, which differs from the size ratio when in*scale is fractional.
    if (size[0] !== h * scales[2] || size[1] !== w * scales[3]) ratio = [1 / scales[2], 1 / scales[3]];
  } else {
    cx.fail('needs 4 scales or 4 sizes');
  }
  if (at.int('antialias', 0) !== 0) cx.fail('antialiased resizing is not supported');
  const mode = at.string('mode', 'nearest');
  const coord = legacy ? 'asymmetric' : at.string('coordinate_transformation_mode', 'half_pixel');
  const nearestMode = legacy ? 'floor' : at.string('nearest_mode', 'round_prefer_floor');
  let attrs: Record<string, boolean | string | number | number[]>;
  if (mode === 'nearest') {
    // TF.js nearest neighbour: floor(dst*scale), floor((dst+0.5)*scale), or round() on aligned corners.
    if (coord === 'asymmetric' && nearestMode === 'floor') attrs = { alignCorners: false, halfPixelCenters: false };
    else if (coord === 'half_pixel' && nearestMode === 'round_prefer_ceil') attrs = { alignCorners: false, halfPixelCenters: true };
    else if (coord === 'align_corners' && nearestMode === 'round_prefer_ceil') attrs = { alignCorners: true, halfPixelCenters: false };
    else cx.fail(`nearest resizing with coordinate_transformation_mode "${coord}" and nearest_mode "${nearestMode}" is not supported`);
    attrs.method = 'nearest';
  } else if (mode === 'linear' || mode === 'bilinear') {
    if (coord === 'half_pixel' || coord === 'pytorch_half_pixel') attrs = { alignCorners: false, halfPixelCenters: true };
    else if (coord === 'align_corners') attrs = { alignCorners: true, halfPixelCenters: false };
    else if (coord === 'asymmetric') attrs = { alignCorners: false, halfPixelCenters: false };
    else cx.fail(`linear resizing with coordinate_transformation_mode "${coord}" is not supported`);
    attrs.method = 'bilinear';
  } else if (mode === 'cubic' && !legacy) {
    if (!['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric'].includes(coord)) {
      cx.fail(`cubic resizing with coordinate_transformation_mode "${coord}" is not supported`);
    }
    attrs = { method: 'cubic', coordinateMode: coord, cubicCoeffA: at.float('cubic_coeff_a', -0.75), excludeOutside: at.int('exclude_outside', 0) === 1 };
  } else {
    cx.fail(`resize mode "${mode}" is not supported`);
  }
  const ref = cx.emit('resize', [cx.nhwc(x)], { ...attrs, size, ...(ratio ? { ratio } : {}) });
  cx.output(OnnxConverter.act(ref, [x.shape[0], x.shape[1], size[0], size[1]], NHWC_PERM));
};

const pad: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  let pads = cx.opset >= 11 ? cx.ints(1, 'pads') : at.ints('pads');
  if (!pads) cx.fail('pads are required');
  const value = cx.opset >= 11 ? cx.constant(2, 'constant_value')?.data[0] ?? 0 : at.float('value', 0);
  const axes = cx.opset >= 18 ? cx.ints(3, 'axes') : undefined;
  if (axes) {
    const full = new Array<number>(2 * rank).fill(0);
    axes.forEach((a, i) => {
      const ax = a < 0 ? a + rank : a;
      full[ax] = pads![i];
      full[ax + rank] = pads![i + axes.length];
    });
    pads = full;
  }
  if (pads.length !== 2 * rank) cx.fail(`expected ${2 * rank} pads, got ${pads.length}`);
  if (pads.some((p) => p < 0)) cx.fail('negative pads (cropping) are not supported');
  const mode = at.string('mode', 'constant');
  let irMode = mode;
  if (mode === 'edge') {
    // Edge replication equals symmetric mirroring for pads of at most one element.
    if (pads.some((p) => p > 1)) cx.fail('edge padding wider than 1 is not supported');
    irMode = 'symmetric';
  } else if (mode !== 'constant' && mode !== 'reflect') {
    cx.fail(`pad mode "${mode}" is not supported`);
  }
  const paddings = x.perm.map((p) => [pads![p], pads![p + rank]]);
  const ref = cx.emit('pad', [x.ref], { paddings: paddings as unknown as number[], mode: irMode, value });
  const shape = x.shape.map((d, i) => (typeof d === 'number' ? d + pads![i] + pads![i + rank] : pads![i] + pads![i + rank] === 0 ? d : null));
  cx.output(OnnxConverter.act(ref, shape, x.perm));
};

/** Converters of the layer ops, by ONNX op type. */
export const NN_OPS: Record<string, OpConverter> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: pool('maxPool'),
  AveragePool: pool('avgPool'),
  GlobalAveragePool: globalPool('globalAvgPool'),
  GlobalMaxPool: globalPool('globalMaxPool'),
  BatchNormalization: batchNormalization,
  InstanceNormalization: instanceNormalization,
  Gemm: gemm,
  MatMul: matMul,
  Resize: resize,
  Upsample: resize,
  Pad: pad,
};
