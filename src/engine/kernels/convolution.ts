/**
 * Convolutions whose input gradient is cheap on every backend and never computes weight gradients.
 * The gradient is a few FORWARD stride-1 convs of dy with flipped, in/out-swapped sub-kernels (one per
 * stride phase, see conv_plan.ts), interleaved back: on wasm a forward conv runs ~10× faster than its
 * Conv2DBackpropInput kernel, and the phases skip the zeros a dilated dy would multiply.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ConvPad, convGeometry, planAxis } from './conv_plan';
import { MAX_PHASES, gatherTaps, interleave } from './layout';
import { subKernel } from './kernel_cache';
import { fastGradientsEnabled, jsKernelsAvailable } from './js_kernel';
import { gemmBackpropInput, gemmBackpropSuits } from './col2im';
import { winogradConv2d, winogradSuits } from './winograd';
import { gemmConv2d, gemmConvSuits } from './gemm_conv';

/** Explicit or keyword padding as tfjs conv ops take it. */
export type ConvPadding = ConvPad;

type Pair = [number, number];

function padArg(t: number, b: number, l: number, r: number): ConvPad {
  return t === 0 && b === 0 && l === 0 && r === 0 ? 'valid' : [[0, 0], [t, b], [l, r], [0, 0]];
}

/** dx of a conv or depthwise conv (input shape xShape) from dy: any padding, strides or dilations (not both). */
export function convBackpropInput(
  dy: tf.Tensor4D, kernel: tf.Tensor4D, xShape: number[], strides: Pair, pad: ConvPad, dilations: Pair, depthwise: boolean,
): tf.Tensor4D {
  const [n, h, w, ci] = xShape;
  const [kh, kw] = kernel.shape;
  if (!depthwise && gemmBackpropSuits(ci, kernel.shape[3], strides)) return gemmBackpropInput(dy, kernel, xShape, strides, pad, dilations);
  if (!depthwise && winogradSuits(dy.shape, [kh, kw, kernel.shape[3], ci], strides, dilations)) {
    // Stride 1: dx is dy convolved with the flipped kernel, padded by 2 − the forward padding.
    const [t, b, l, r] = convGeometry(h, w, kh, kw, strides, dilations, pad).pad.map((p) => kh - 1 - p);
    if (Math.min(t, b, l, r) >= 0) return winogradConv2d(dy, kernel, [[0, 0], [t, b], [l, r], [0, 0]], undefined, true);
  }
  if (strides[0] * strides[1] > MAX_PHASES) return plainBackprop(dy, kernel, xShape, strides, pad, dilations, depthwise);
  const geo = convGeometry(h, w, kh, kw, strides, dilations, pad);
  const planH = planAxis(h, dy.shape[1], kh, strides[0], dilations[0], geo.pad[0]);
  const planW = planAxis(w, dy.shape[2], kw, strides[1], dilations[1], geo.pad[2]);
  const group = depthwise ? kernel.shape[3] : 1;
  return tf.tidy(() => {
    const phases: tf.Tensor4D[] = [];
    const present: number[] = [];
    planH.phases.forEach((a, rh) => {
      planW.phases.forEach((b, rw) => {
        if (!a || !b) return;
        let src = dy;
        const [hTaps, wTaps, extraH, extraW] = depthwise && jsKernelsAvailable() ? squareTaps(a.taps, b.taps) : [a.taps, b.taps, 0, 0];
        const pads = [a.padBefore, a.padAfter + extraH * a.dilation, b.padBefore, b.padAfter + extraW * b.dilation];
        if (pads.some((p) => p < 0)) {
          // Only unusual explicit paddings (wider than the kernel) need dy cropped.
          const [t, bo, l, r] = pads.map((p) => Math.max(0, -p));
          src = tf.slice(dy, [0, t, l, 0], [-1, dy.shape[1] - t - bo, dy.shape[2] - l - r, -1]);
        }
        const [t, bo, l, r] = pads.map((p) => Math.max(0, p));
        const sub = subKernel(kernel, `taps ${hTaps}|${wTaps}|${depthwise}`, () => gatherTaps(kernel, hTaps, wTaps, !depthwise));
        const dil: Pair = [a.dilation, b.dilation];
        const z = depthwise
          ? depthwiseConv2dInputGradFriendly(src, tf.reshape(sub, [sub.shape[0], sub.shape[1], sub.shape[2] * sub.shape[3], 1]) as tf.Tensor4D,
            [1, 1], padArg(t, bo, l, r), dil)
          : conv2dInputGradFriendly(src, sub, [1, 1], padArg(t, bo, l, r), dil);
        phases.push(z);
        present.push(rh * strides[1] + rw);
      });
    });
    if (phases.length === 0) return tf.zeros([n, h, w, ci]) as tf.Tensor4D;
    return interleave(phases, present, {
      sh: strides[0], sw: strides[1], outH: h, outW: w, q: planH.phaseLen, p: planW.phaseLen, group,
    });
  });
}

/**
 * Pads the shorter tap list with zero taps (-1) to a square window: wasm's depthwise conv runs a 2×1
 * kernel 10–40× slower than a 2×2 one. Returns the taps and how many zero taps each axis gained.
 */
function squareTaps(h: number[], w: number[]): [number[], number[], number, number] {
  const pad = (t: number[], n: number) => [...t, ...Array.from({ length: n - t.length }, () => -1)];
  if (h.length === w.length || Math.min(h.length, w.length) === 0) return [h, w, 0, 0];
  const n = Math.max(h.length, w.length);
  return [pad(h, n), pad(w, n), n - h.length, n - w.length];
}

/** The stock tfjs backprop, for strides too large to split into phases (no dilations there). */
function plainBackprop(
  dy: tf.Tensor4D, kernel: tf.Tensor4D, xShape: number[], strides: Pair, pad: ConvPad, dilations: Pair, depthwise: boolean,
): tf.Tensor4D {
  const shape = xShape as [number, number, number, number];
  if (!depthwise) return tf.conv2dTranspose(dy, kernel, shape, strides, pad);
  const attrs = { strides, pad, dilations, inputShape: shape } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: kernel }, attrs) as tf.Tensor4D;
}

/**
 * Wraps a (depthwise) conv so that its gradient is the input gradient only, computed by forward convs.
 * A bias is added by the backend's fused conv (no separate pass over the output); the stock path adds it
 * separately, because tfjs's fused conv gradient computes the weight gradients too.
 */
function inputOnlyGradient(
  x: tf.Tensor4D, kernel: tf.Tensor4D, strides: [number, number], pad: ConvPadding, dilations: [number, number],
  depthwise: boolean, bias?: tf.Tensor,
): tf.Tensor4D {
  if (!fastGradientsEnabled()) {
    const y = (depthwise ? tf.depthwiseConv2d : tf.conv2d)(x, kernel, strides, pad, 'NHWC', dilations);
    return bias ? tf.add(y, bias) : y;
  }
  const forward = (xs: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D => {
    if (!depthwise && winogradSuits(xs.shape, k.shape, strides, dilations)) return winogradConv2d(xs, k, pad, bias);
    if (!depthwise && gemmConvSuits(xs.shape, k.shape, strides, dilations, pad)) return gemmConv2d(xs, k, strides, pad, dilations, bias);
    if (!bias) return (depthwise ? tf.depthwiseConv2d : tf.conv2d)(xs, k, strides, pad, 'NHWC', dilations);
    // Explicit padding works at run time (computeConv2DInfo), though the fused ops' types leave it out.
    const args = { x: xs, filter: k, strides, pad: pad as 'same', dataFormat: 'NHWC' as const, dilations, bias };
    return depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
  };
  const f = tf.customGrad((xIn, save) => {
    const xs = xIn as tf.Tensor4D;
    // Saved, not closed over: a kernel made inside the differentiated function (a split, a reshape) is
    // disposed when the forward pass ends.
    (save as tf.GradSaveFunc)([kernel]);
    return {
      value: forward(xs, kernel),
      gradFunc: (dy, [k]) => convBackpropInput(dy as tf.Tensor4D, k as tf.Tensor4D, xs.shape, strides, pad, dilations, depthwise),
    };
  });
  return f(x) as tf.Tensor4D;
}

/** A 2-D convolution (NHWC) plus an optional bias [outC], differentiable with respect to `x` only. */
export function conv2dInputGradFriendly(
  x: tf.Tensor4D, kernel: tf.Tensor4D, strides: [number, number], pad: ConvPadding, dilations: [number, number], bias?: tf.Tensor,
): tf.Tensor4D {
  return inputOnlyGradient(x, kernel, strides, pad, dilations, false, bias);
}

/** A depthwise 2-D convolution (NHWC) plus an optional bias [C·multiplier], differentiable with respect to `x` only. */
export function depthwiseConv2dInputGradFriendly(
  x: tf.Tensor4D, kernel: tf.Tensor4D, strides: [number, number], pad: ConvPadding, dilations: [number, number], bias?: tf.Tensor,
): tf.Tensor4D {
  return inputOnlyGradient(x, kernel, strides, pad, dilations, true, bias);
}

/** tf.conv2dTranspose(x, kernel [kh,kw,outC,inC], outShape, strides, 'valid') on forward conv kernels both ways. */
export function conv2dTransposeInputGradFriendly(
  x: tf.Tensor4D, kernel: tf.Tensor4D, outShape: [number, number, number, number], strides: [number, number],
): tf.Tensor4D {
  // A transposed conv IS the input gradient of a forward conv, and its own input gradient is that conv.
  if (!fastGradientsEnabled()) return tf.conv2dTranspose(x, kernel, outShape, strides, 'valid');
  const f = tf.customGrad((xIn, save) => {
    const xs = xIn as tf.Tensor4D;
    // Saved, not closed over: a kernel made inside the differentiated function (a split, a reshape) is
    // disposed when the forward pass ends.
    (save as tf.GradSaveFunc)([kernel]);
    return {
      value: convBackpropInput(xs, kernel, outShape, strides, 'valid', [1, 1], false),
      gradFunc: (dy, [k]) => conv2dInputGradFriendly(dy as tf.Tensor4D, k as tf.Tensor4D, strides, 'valid', [1, 1]),
    };
  });
  return f(x) as tf.Tensor4D;
}
