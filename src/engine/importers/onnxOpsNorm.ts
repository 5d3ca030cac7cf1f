/** ONNX → IR converters of the normalisations over feature axes: LayerNormalization and LRN. */
import { constForLayout } from './onnxConst';
import { type Attrs, floatWeight, identityPerm, OnnxConverter, type WeightData } from './onnxConverter';
import type { OpConverter } from './onnxOpsNn';
import type { ConstTensor } from './onnxTensors';

/** A constant laid out to broadcast against the current node's input (rank, perm) as IR weight data. */
function laidOut(cx: OnnxConverter, t: ConstTensor, rank: number, perm: readonly number[], what: string): WeightData {
  const laid = constForLayout(t, rank, perm);
  if (!laid) cx.fail(`the ${what} of rank ${t.dims.length} does not broadcast against a rank-${rank} input`);
  return floatWeight(laid);
}

/** LayerNormalization (opset 17): normalises over ONNX axes [axis, rank), then scale and optional bias. */
const layerNormalization: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  const given = at.int('axis', -1);
  const axis = given < 0 ? given + rank : given;
  if (axis < 0 || axis >= rank) cx.fail(`axis ${given} is out of range for a rank-${rank} input`);
  cx.requireUnused(1, 'Mean');
  cx.requireUnused(2, 'InvStdDev');
  const scale = cx.constant(1, 'the scale');
  if (!scale) cx.fail('the scale is required');
  const bias = cx.constant(2, 'the bias');
  const weights: Record<string, WeightData> = { gamma: laidOut(cx, scale, rank, x.perm, 'scale') };
  if (bias) weights.beta = laidOut(cx, bias, rank, x.perm, 'bias');
  // The normalised axes are wherever the layout put them: no transpose is ever needed.
  const axes = identityPerm(rank).slice(axis).map((a) => x.perm.indexOf(a)).sort((a, b) => a - b);
  const ref = cx.emit('layerNorm', [x.ref], { axes, epsilon: at.float('epsilon', 1e-5) }, weights);
  cx.output(OnnxConverter.act(ref, x.shape, x.perm));
};

/**
 * LRN: y = x / (bias + alpha/size · Σ x²)^beta, the sum over the channels c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉.
 * The windowed sum is a dense layer with a banded C×C kernel on the channels-last tensor (differentiable
 * everywhere with stock ops), with the bias as its bias.
 */
const lrn: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  if (rank < 3) cx.fail(`expected an input of rank 3 or more (N, C, ...), got rank ${rank}`);
  const size = at.int('size', 0);
  if (size < 1) cx.fail('size must be a positive integer');
  const c = x.shape[1];
  if (typeof c !== 'number') cx.fail('the number of channels is not known at load time');
  const alpha = at.float('alpha', 1e-4);
  const beta = at.float('beta', 0.75);
  const bias = at.float('bias', 1);
  const before = Math.floor((size - 1) / 2);
  const after = Math.ceil((size - 1) / 2);
  const band = new Float32Array(c * c);
  for (let out = 0; out < c; out++) {
    for (let i = Math.max(0, out - before); i <= Math.min(c - 1, out + after); i++) band[i * c + out] = alpha / size;
  }
  const perm = [0, ...identityPerm(rank).slice(2), 1];
  const xr = cx.withPerm(x, perm);
  const squared = cx.emit('mul', [xr, xr], {}, {}, 'square');
  const base = cx.emit('dense', [squared], {}, {
    kernel: { data: band, shape: [c, c] }, bias: { data: new Float32Array(c).fill(bias), shape: [c] },
  }, 'window_sum');
  const exponent = cx.emit('const', [], {}, { value: { data: Float32Array.of(beta), shape: [] } }, 'beta');
  const denominator = cx.emit('pow', [base, exponent], {}, {}, 'pow');
  cx.output(OnnxConverter.act(cx.emit('div', [xr, denominator]), x.shape, perm));
};

/** Converters of the feature-axis normalisations, by ONNX op type. */
export const NORM_OPS: Record<string, OpConverter> = {
  LayerNormalization: layerNormalization,
  LRN: lrn,
};
