/** Converts one Keras layer call into internal graph nodes. */
import * as tf from '@tensorflow/tfjs-core';
import type { AttrValue, OpType } from '../graph/ir';
import { kerasActivation, reluLayerOp } from './layersActivations';
import { type LayerSpec, type LayersGraphBuilder, type Shape, broadcastShapes, windowOutput } from './layersBuilder';

type Pair = [number, number];

const IDENTITY_LAYERS = new Set([
  'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'GaussianNoise', 'GaussianDropout',
  'AlphaDropout', 'ActivityRegularization', 'Identity',
]);

const MERGE_OPS: Record<string, OpType> = {
  Add: 'add', Subtract: 'sub', Multiply: 'mul', Average: 'add', Maximum: 'maximum', Minimum: 'minimum',
};

function pairOf(v: unknown, fallback: Pair): Pair {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  return fallback;
}

/** Keras padding specs of ZeroPadding2D / Cropping2D: n, [h, w] or [[top, bottom], [left, right]]. */
function edges2d(v: unknown): [Pair, Pair] | null {
  if (typeof v === 'number') return [[v, v], [v, v]];
  if (!Array.isArray(v) || v.length !== 2) return null;
  if (v.every((x) => typeof x === 'number')) return [[v[0], v[0]], [v[1], v[1]]];
  const a = pairOf(v[0], [-1, -1]);
  const b = pairOf(v[1], [-1, -1]);
  return a[0] < 0 || b[0] < 0 ? null : [a, b];
}

const plus = (a: number | null, b: number): number | null => (a === null ? null : a + b);

/** The one node sequence for a layer call; returns the name of the node carrying the layer's output. */
export function convertLayer(b: LayersGraphBuilder, layer: LayerSpec, inputs: string[], outName: string): string {
  const c = layer.config;
  const unsupported = (why: string): never => b.fail(`layer "${layer.name}" (${layer.className}): ${why}`);
  if (c.data_format === 'channels_first') unsupported('data_format channels_first is not supported (only channels_last)');
  const x = inputs[0];
  const shape = (): Shape => b.shapeOf(x);
  const needRank = (rank: number): Shape => {
    const s = shape();
    if (s.length !== rank) unsupported(`expects a rank-${rank} input, got rank ${s.length}`);
    return s;
  };
  const padding = (): 'same' | 'valid' => {
    const p = String(c.padding ?? 'valid').toLowerCase();
    if (p !== 'same' && p !== 'valid') unsupported(`padding "${p}" is not supported`);
    return p as 'same' | 'valid';
  };
  const sized = (v: number | null, what: string): number => {
    if (v === null) unsupported(`needs a fixed input ${what}, but the model's input size is dynamic`);
    return v as number;
  };

  if (IDENTITY_LAYERS.has(layer.className)) return b.emit(outName, 'identity', [x], shape(), layer);
  if (layer.className in MERGE_OPS) return merge(b, layer, inputs, outName);

  switch (layer.className) {
    case 'Conv2D':
    case 'Convolution2D': {
      const [, h, w] = needRank(4);
      const kernel = b.weight(layer, 'kernel');
      const [kh, kw, , outC] = kernel.shape;
      const strides = pairOf(c.strides, [1, 1]);
      const dilations = pairOf(c.dilation_rate, [1, 1]);
      const pad = padding();
      const bias = b.optionalWeight(layer, 'bias', c.use_bias !== false);
      const out: Shape = [null, windowOutput(h, kh, strides[0], dilations[0], pad), windowOutput(w, kw, strides[1], dilations[1], pad), outC];
      const attrs = { strides, dilations, padding: pad, groups: typeof c.groups === 'number' ? c.groups : 1 };
      return b.emitWithActivation(outName, 'conv2d', [x], out, layer, attrs, bias ? { kernel, bias } : { kernel });
    }
    case 'DepthwiseConv2D': {
      const [, h, w] = needRank(4);
      const kernel = b.weight(layer, 'depthwise_kernel');
      const [kh, kw, inC, mult] = kernel.shape;
      const strides = pairOf(c.strides, [1, 1]);
      const dilations = pairOf(c.dilation_rate, [1, 1]);
      const pad = padding();
      const bias = b.optionalWeight(layer, 'bias', c.use_bias !== false);
      const out: Shape = [null, windowOutput(h, kh, strides[0], dilations[0], pad), windowOutput(w, kw, strides[1], dilations[1], pad), inC * mult];
      return b.emitWithActivation(outName, 'depthwiseConv2d', [x], out, layer, { strides, dilations, padding: pad },
        bias ? { kernel, bias } : { kernel });
    }
    case 'SeparableConv2D':
    case 'SeparableConvolution2D': {
      const [, h, w] = needRank(4);
      const depthwise = b.weight(layer, 'depthwise_kernel');
      const pointwise = b.weight(layer, 'pointwise_kernel');
      const [kh, kw, inC, mult] = depthwise.shape;
      const strides = pairOf(c.strides, [1, 1]);
      const dilations = pairOf(c.dilation_rate, [1, 1]);
      const pad = padding();
      const bias = b.optionalWeight(layer, 'bias', c.use_bias !== false);
      const mid: Shape = [null, windowOutput(h, kh, strides[0], dilations[0], pad), windowOutput(w, kw, strides[1], dilations[1], pad), inC * mult];
      const final = b.unique(outName);
      const dw = b.emit(`${final}/depthwise`, 'depthwiseConv2d', [x], mid, layer, { strides, dilations, padding: pad }, { kernel: depthwise });
      const out: Shape = [...mid.slice(0, 3), pointwise.shape[3] as number];
      return b.emitWithActivation(final, 'conv2d', [dw], out, layer, { strides: [1, 1], dilations: [1, 1], padding: 'valid' },
        bias ? { kernel: pointwise, bias } : { kernel: pointwise });
    }
    case 'Conv2DTranspose':
    case 'Deconvolution2D':
      return convTranspose(b, layer, x, outName, needRank(4), padding(), unsupported);
    case 'Dense': {
      const kernel = b.weight(layer, 'kernel');
      const bias = b.optionalWeight(layer, 'bias', c.use_bias !== false);
      const out: Shape = [...shape().slice(0, -1), kernel.shape[1] as number];
      return b.emitWithActivation(outName, 'dense', [x], out, layer, {}, bias ? { kernel, bias } : { kernel });
    }
    case 'BatchNormalization': {
      const s = shape();
      const axis = Array.isArray(c.axis) && c.axis.length === 1 ? Number(c.axis[0]) : typeof c.axis === 'number' ? c.axis : -1;
      if ((axis < 0 ? axis + s.length : axis) !== s.length - 1) unsupported(`normalises axis ${axis}; only the last (channel) axis is supported`);
      const mean = b.weight(layer, 'moving_mean');
      // tf.batchNorm's gradient fails when scale or offset is absent (tfjs-core 4.22), so always supply both.
      const gamma = b.optionalWeight(layer, 'gamma', c.scale !== false) ?? tf.onesLike(mean);
      const beta = b.optionalWeight(layer, 'beta', c.center !== false) ?? tf.zerosLike(mean);
      const weights = { mean, variance: b.weight(layer, 'moving_variance'), gamma, beta };
      return b.emit(outName, 'batchNorm', [x], s, layer, { epsilon: typeof c.epsilon === 'number' ? c.epsilon : 1e-3 }, weights);
    }
    case 'Activation': {
      const act = kerasActivation(c.activation, b.flavour);
      if (act === undefined) unsupported(`activation ${JSON.stringify(c.activation)} is not supported`);
      return act ? b.emit(outName, act.op, [x], shape(), layer, act.attrs) : b.emit(outName, 'identity', [x], shape(), layer);
    }
    case 'ReLU': {
      const act = reluLayerOp(c);
      if (!act) unsupported('threshold, or a negative slope together with max_value, is not supported');
      return b.emit(outName, act!.op, [x], shape(), layer, act!.attrs);
    }
    case 'LeakyReLU': {
      const alpha = typeof c.alpha === 'number' ? c.alpha : typeof c.negative_slope === 'number' ? c.negative_slope : 0.3;
      return b.emit(outName, 'leakyRelu', [x], shape(), layer, { alpha });
    }
    case 'PReLU':
      return b.emit(outName, 'prelu', [x], shape(), layer, {}, { alpha: b.weight(layer, 'alpha') });
    case 'ELU':
      return b.emit(outName, 'elu', [x], shape(), layer, { alpha: typeof c.alpha === 'number' ? c.alpha : 1 });
    case 'Softmax': {
      const axis = Array.isArray(c.axis) && c.axis.length === 1 ? Number(c.axis[0]) : typeof c.axis === 'number' ? c.axis : -1;
      return b.emit(outName, 'softmax', [x], shape(), layer, { axis });
    }
    case 'MaxPooling2D':
    case 'MaxPool2D':
    case 'AveragePooling2D':
    case 'AvgPool2D': {
      const [, h, w, ch] = needRank(4);
      const kernel = pairOf(c.pool_size, [2, 2]);
      const strides = pairOf(c.strides, kernel);
      const pad = padding();
      const out: Shape = [null, windowOutput(h, kernel[0], strides[0], 1, pad), windowOutput(w, kernel[1], strides[1], 1, pad), ch];
      const op = layer.className.startsWith('Max') ? 'maxPool' : 'avgPool';
      return b.emit(outName, op, [x], out, layer, { kernel, strides, padding: pad });
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalAvgPool2D':
    case 'GlobalMaxPooling2D':
    case 'GlobalMaxPool2D': {
      const [, , , ch] = needRank(4);
      const keepDims = c.keepdims === true;
      const op = layer.className.includes('Max') ? 'globalMaxPool' : 'globalAvgPool';
      return b.emit(outName, op, [x], keepDims ? [null, 1, 1, ch] : [null, ch], layer, { keepDims });
    }
    case 'Flatten': {
      const rest = shape().slice(1);
      const size = rest.some((d) => d === null) ? null : (rest as number[]).reduce((p, q) => p * q, 1);
      return b.emit(outName, 'flatten', [x], [null, size], layer);
    }
    case 'Reshape': {
      const target = Array.isArray(c.target_shape) ? (c.target_shape as number[]).map(Number) : unsupported('has no target_shape');
      const free = target.filter((d) => d === -1).length;
      let resolved = target;
      if (free > 1) unsupported('target_shape has more than one -1');
      if (free === 1) {
        const rest = shape().slice(1);
        if (rest.some((d) => d === null)) unsupported('target_shape with -1 needs a fixed input size');
        const total = (rest as number[]).reduce((p, q) => p * q, 1);
        const known = target.filter((d) => d !== -1).reduce((p, q) => p * q, 1);
        resolved = target.map((d) => (d === -1 ? total / known : d));
      }
      return b.emit(outName, 'reshape', [x], [null, ...resolved], layer, { shape: [-1, ...resolved] });
    }
    case 'Permute': {
      const dims = Array.isArray(c.dims) ? (c.dims as number[]).map(Number) : unsupported('has no dims');
      const s = shape();
      return b.emit(outName, 'transpose', [x], [null, ...dims.map((d) => s[d])], layer, { perm: [0, ...dims] });
    }
    case 'ZeroPadding2D': {
      const [, h, w, ch] = needRank(4);
      const e = edges2d(c.padding ?? 1) ?? unsupported(`padding ${JSON.stringify(c.padding)} is not understood`);
      const out: Shape = [null, plus(h, e[0][0] + e[0][1]), plus(w, e[1][0] + e[1][1]), ch];
      return b.emit(outName, 'pad', [x], out, layer, { paddings: [[0, 0], e[0], e[1], [0, 0]] as unknown as AttrValue, mode: 'constant', value: 0 });
    }
    case 'Cropping2D': {
      const [, h, w, ch] = needRank(4);
      const e = edges2d(c.cropping ?? 0) ?? unsupported(`cropping ${JSON.stringify(c.cropping)} is not understood`);
      const outH = sized(h, 'height') - e[0][0] - e[0][1];
      const outW = sized(w, 'width') - e[1][0] - e[1][1];
      if (outH <= 0 || outW <= 0) unsupported('crops the whole input away');
      return b.emit(outName, 'slice', [x], [null, outH, outW, ch], layer, { begin: [0, e[0][0], e[1][0], 0], size: [-1, outH, outW, -1] });
    }
    case 'UpSampling2D': {
      const [, h, w, ch] = needRank(4);
      const [fh, fw] = pairOf(c.size, [2, 2]);
      const method = c.interpolation === 'bilinear' ? 'bilinear' : c.interpolation === 'nearest' || c.interpolation === undefined ? 'nearest' : unsupported(`interpolation ${String(c.interpolation)} is not supported`);
      const size: Pair = [sized(h, 'height') * fh, sized(w, 'width') * fw];
      return b.emit(outName, 'resize', [x], [null, size[0], size[1], ch], layer,
        { size, method, alignCorners: false, halfPixelCenters: !b.flavour.legacyResize });
    }
    case 'Concatenate': {
      const shapes = inputs.map((i) => b.shapeOf(i));
      const rank = shapes[0].length;
      const raw = typeof c.axis === 'number' ? c.axis : -1;
      const axis = raw < 0 ? raw + rank : raw;
      const out = [...shapes[0]];
      out[axis] = shapes.some((s) => s[axis] === null) ? null : shapes.reduce((p, s) => p + (s[axis] as number), 0);
      return b.emit(outName, 'concat', inputs, out, layer, { axis });
    }
    case 'Rescaling': {
      const scale = tf.tensor((c.scale ?? 1) as number | number[]);
      const shift = tf.tensor((c.offset ?? 0) as number | number[]);
      return b.emit(outName, 'affine', [x], shape(), layer, {}, { scale, shift });
    }
    case 'Normalization':
      return normalization(b, layer, x, outName, unsupported);
    default:
      return unsupported('this layer class is not supported');
  }
}

function merge(b: LayersGraphBuilder, layer: LayerSpec, inputs: string[], outName: string): string {
  if (inputs.length < 2 || (layer.className === 'Subtract' && inputs.length !== 2)) {
    b.fail(`layer "${layer.name}" (${layer.className}) has ${inputs.length} inputs`);
  }
  const op = MERGE_OPS[layer.className];
  const shape = broadcastShapes(inputs.map((i) => b.shapeOf(i)));
  const final = b.unique(outName);
  const average = layer.className === 'Average';
  let acc = inputs[0];
  for (let i = 1; i < inputs.length; i++) {
    const last = i === inputs.length - 1 && !average;
    acc = b.emit(last ? final : `${final}/${op}${i}`, op, [acc, inputs[i]], shape, layer);
  }
  if (average) acc = b.emit(final, 'affine', [acc], shape, layer, {}, { scale: tf.scalar(1 / inputs.length) });
  return acc;
}

function convTranspose(b: LayersGraphBuilder, layer: LayerSpec, x: string, outName: string, inShape: Shape,
  pad: 'same' | 'valid', unsupported: (why: string) => never): string {
  const c = layer.config;
  const kernel = b.weight(layer, 'kernel');
  const [kh, kw, outC] = kernel.shape;
  const strides = pairOf(c.strides, [1, 1]);
  const dilations = pairOf(c.dilation_rate, [1, 1]);
  if (dilations[0] !== 1 || dilations[1] !== 1) unsupported('dilated transposed convolution is not supported');
  const outputPadding = c.output_padding == null ? null : pairOf(c.output_padding, [0, 0]);
  const axis = (size: number | null, k: number, s: number, i: number): [number, number, number] => {
    if (size === null) unsupported('needs a fixed input size');
    const n = size as number;
    // Keras' deconv_output_length, then TF's conv2d_backprop_input placement of that output in the full result.
    const wanted = outputPadding === null
      ? (pad === 'same' ? n * s : n * s + Math.max(k - s, 0))
      : (n - 1) * s + k - 2 * (pad === 'same' ? Math.floor(k / 2) : 0) + outputPadding[i];
    const full = (n - 1) * s + k;
    const cropTotal = pad === 'same' ? Math.max(full - wanted, 0) : 0;
    const before = Math.floor(cropTotal / 2);
    const extra = wanted - (full - cropTotal);
    if (extra < 0) unsupported('output_padding/stride combination is not supported');
    return [before, cropTotal - before, extra];
  };
  const [t, bt, eh] = axis(inShape[1], kh, strides[0], 0);
  const [l, r, ew] = axis(inShape[2], kw, strides[1], 1);
  const outH = ((inShape[1] as number) - 1) * strides[0] + kh + eh - t - bt;
  const outW = ((inShape[2] as number) - 1) * strides[1] + kw + ew - l - r;
  const bias = b.optionalWeight(layer, 'bias', c.use_bias !== false);
  return b.emitWithActivation(outName, 'conv2dTranspose', [x], [null, outH, outW, outC], layer,
    { strides, padding: [t, bt, l, r], outputPadding: [eh, ew] }, bias ? { kernel, bias } : { kernel });
}

function normalization(b: LayersGraphBuilder, layer: LayerSpec, x: string, outName: string,
  unsupported: (why: string) => never): string {
  const c = layer.config;
  if (c.invert === true) unsupported('invert=true is not supported');
  const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
  if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== b.shapeOf(x).length - 1)) unsupported('only the last axis is supported');
  // Only derived tensors go into the node, so the stored mean and variance stay unused (and get freed).
  const mean = b.weights.peek(layer.name, 'mean');
  const variance = b.weights.peek(layer.name, 'variance');
  const meanValue = mean ?? (c.mean != null ? tf.tensor(c.mean as number | number[]) : unsupported('has no mean'));
  const varValue = variance ?? (c.variance != null ? tf.tensor(c.variance as number | number[]) : unsupported('has no variance'));
  const [scale, shift] = tf.tidy(() => {
    const s = tf.div(1, tf.maximum(tf.sqrt(varValue), 1e-7));
    return [s, tf.neg(tf.mul(meanValue, s))];
  });
  if (!mean) meanValue.dispose();
  if (!variance) varValue.dispose();
  return b.emit(outName, 'affine', [x], b.shapeOf(x), layer, {}, { scale, shift });
}
