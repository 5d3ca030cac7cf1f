/**
 * Activations and per-channel normalisation with input gradients built from fast forward ops. On wasm
 * the stock gradients go through Greater/LessEqual/Select/Tile kernels (1.5–30 ms at 112×112×32), while
 * Step and broadcast Mul/Add/Sub run through XNNPACK in ~0.1 ms. Each gradient equals the stock one,
 * including the tie conventions at the kinks (noted per function).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fastGradientsEnabled, jsKernelsAvailable } from './js_kernel';
import { subKernel } from './kernel_cache';
import { maskedScale, nextUp } from './masked_scale';

/** Where an activation's slope is 1: lower < x < upper (an infinite bound is no bound); alpha elsewhere. */
interface SlopeRegion {
  lower: number;
  upper: number;
  alpha: number;
}

/**
 * Wraps f so that its gradient is dy * mask(x), mask being 1 in `region` and alpha outside; recomputed from the
 * saved input, not stored. On cpu and wasm one kernel computes it (masked_scale.ts), elsewhere the mask ops.
 */
function withMaskGrad(x: tf.Tensor, forward: (x: tf.Tensor) => tf.Tensor, mask: (x: tf.Tensor) => tf.Tensor, region: SlopeRegion): tf.Tensor {
  const f = tf.customGrad((xIn, save) => {
    const xs = xIn as tf.Tensor;
    (save as tf.GradSaveFunc)([xs]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => jsKernelsAvailable()
      ? maskedScale(dy, saved[0], region.lower, region.upper, region.alpha)
      : tf.tidy(() => tf.mul(dy, mask(saved[0])));
    return { value: forward(xs), gradFunc };
  });
  return f(x);
}

/** ReLU; slope 1 where x > 0 (tfjs's Relu gradient without its float32-to-float32 Cast, a full copy on wasm). */
export function reluInputGradFriendly(x: tf.Tensor): tf.Tensor {
  if (!fastGradientsEnabled()) return tf.relu(x);
  return withMaskGrad(x, (v) => tf.relu(v), (v) => tf.step(v), { lower: 0, upper: Infinity, alpha: 0 });
}

/** LeakyReLU; slope 1 where x > 0 and alpha elsewhere (as tfjs: alpha at x = 0). */
export function leakyReluInputGradFriendly(x: tf.Tensor, alpha: number): tf.Tensor {
  if (!fastGradientsEnabled()) return tf.leakyRelu(x, alpha);
  // PReLU with a per-channel slope of alpha is tfjs's LeakyRelu value in one XNNPACK pass (wasm's LeakyRelu
  // kernel is a scalar loop, 20× slower).
  const prelu = (v: tf.Tensor) => tf.tidy(() => tf.prelu(v, tf.fill([v.shape[v.rank - 1]], alpha)));
  return withMaskGrad(x, prelu, (v) => tf.step(v, alpha), { lower: 0, upper: Infinity, alpha });
}

/**
 * 1 where lower < x < upper, else 0 (an infinite bound is no bound), from Sub, Mul and Step only: on wasm
 * those run through XNNPACK in ~0.2 ms at 112×112×96, while Greater/Less/LogicalAnd/Select take 1–5 ms each.
 */
export function openIntervalMask(x: tf.Tensor, lower: number, upper: number): tf.Tensor {
  // A float difference is zero only on equality and keeps the sign of the exact one.
  const above = lower === -Infinity ? undefined : lower === 0 ? x : tf.sub(x, lower);
  const below = upper === Infinity ? undefined : tf.sub(upper, x);
  if (!above || !below) return above || below ? tf.step((above ?? below)!) : tf.onesLike(x);
  // With upper - lower >= 2 one factor of a positive product is >= 1, so it never underflows to zero; with
  // upper - lower finite in float32, a factor is never infinite while the other is zero (a NaN), and an
  // overflow keeps its sign: one Step of the product decides both bounds.
  const width = Math.fround(Math.fround(upper) - Math.fround(lower));
  if (width >= 2 && Number.isFinite(width)) return tf.step(tf.mul(above, below));
  return tf.mul(tf.step(above), tf.step(below));
}

/** 1 where lower <= x <= upper (float32 bounds): the open interval between their float32 neighbours. */
function closedIntervalMask(x: tf.Tensor, lower: number, upper: number): tf.Tensor {
  return openIntervalMask(x, -nextUp(-lower), nextUp(upper));
}

/** ReLU6; slope 1 where 0 < x <= 6 (tfjs's Relu6 gradient convention). */
export function relu6InputGradFriendly(x: tf.Tensor): tf.Tensor {
  if (!fastGradientsEnabled()) return tf.relu6(x);
  return withMaskGrad(x, (v) => tf.relu6(v), (v) => openIntervalMask(v, 0, nextUp(6)), { lower: 0, upper: nextUp(6), alpha: 0 });
}

/** clipByValue; slope 1 where min <= x <= max (tfjs's ClipByValue gradient convention). */
export function clipInputGradFriendly(x: tf.Tensor, min: number, max: number): tf.Tensor {
  if (!fastGradientsEnabled()) return tf.clipByValue(x, min, max);
  const region = { lower: -nextUp(-min), upper: nextUp(max), alpha: 0 };
  return withMaskGrad(x, (v) => tf.clipByValue(v, min, max), (v) => closedIntervalMask(v, min, max), region);
}

/** Inference batch norm over the last axis (tf.batchNorm up to float rounding); input gradient dy * scale. */
export function batchNormInputGradFriendly(
  x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, offset: tf.Tensor | undefined, scale: tf.Tensor | undefined, epsilon: number,
): tf.Tensor {
  // Folded into x * scale + shift (a per-channel affine, see below) instead of wasm's FusedBatchNorm, whose
  // stock gradient tiles rsqrt(var) to the full input size (30 ms at 112×112×32).
  if (!fastGradientsEnabled()) return tf.batchNorm(x, mean, variance, offset, scale, epsilon);
  // The folded vectors are cached with the weights: the same tensors every pass let the backend keep its
  // prepared depthwise operator, and spare five small ops per layer and pass.
  const key = `bn ${epsilon} ${mean.id} ${scale?.id} ${offset?.id}`;
  const inv = (): tf.Tensor => {
    const r = tf.rsqrt(tf.add(variance, epsilon));
    return scale ? tf.mul(r, scale) : r;
  };
  return tf.tidy(() => {
    const mul = subKernel(variance, `${key} scale`, inv);
    const add = subKernel(variance, `${key} shift`, () => tf.tidy(() => {
      const shift = tf.neg(tf.mul(mean, inv()));
      return offset ? tf.add(shift, offset) : shift;
    }));
    return affineInputGradFriendly(x, mul, add);
  });
}

/** Whether t holds one value per channel of x (shape [C] or [1,…,1,C]). */
function perChannel(t: tf.Tensor | undefined, x: tf.Tensor): boolean {
  return !t || (t.size === x.shape[x.rank - 1] && t.shape[t.rank - 1] === t.size);
}

/**
 * x * scale + shift with per-channel (broadcast) scale and shift; the input gradient is dy * scale. On NHWC
 * tensors with per-channel vectors both run as a 1×1 depthwise conv (shift as its bias): wasm's broadcast
 * Mul and Add take ~1 ms each at 224×224×16, the depthwise conv 0.3 ms for both, with the same rounding.
 */
export function affineInputGradFriendly(x: tf.Tensor, scale: tf.Tensor | undefined, shift: tf.Tensor | undefined): tf.Tensor {
  if (!fastGradientsEnabled()) {
    const scaled = scale ? tf.mul(x, scale) : x;
    return shift ? tf.add(scaled, shift) : scaled === x ? tf.clone(x) : scaled;
  }
  const channels = x.shape[x.rank - 1];
  const depthwise = x.rank === 4 && scale !== undefined && perChannel(scale, x) && perChannel(shift, x);
  const f = tf.customGrad((xIn, save) => {
    const xs = xIn as tf.Tensor;
    const filter = depthwise ? tf.reshape(scale!, [1, 1, channels, 1]) as tf.Tensor4D : undefined;
    // Saved (not closed over): the caller may dispose scale right after the forward pass.
    if (scale) (save as tf.GradSaveFunc)([filter ?? scale]);
    const value = tf.tidy(() => {
      if (filter) {
        const bias = shift ? tf.reshape(shift, [channels]) : undefined;
        return tf.fused.depthwiseConv2d({ x: xs as tf.Tensor4D, filter, strides: 1, pad: 'valid', bias });
      }
      const scaled = scale ? tf.mul(xs, scale) : tf.clone(xs);
      return shift ? tf.add(scaled, shift) : scaled;
    });
    return {
      value,
      gradFunc: (dy, saved) => tf.tidy(() => {
        if (depthwise) return tf.depthwiseConv2d(dy as tf.Tensor4D, saved[0] as tf.Tensor4D, 1, 'valid');
        const g = scale ? tf.mul(dy, saved[0]) : tf.clone(dy);
        // A scale or shift that broadcasts x up (e.g. [C] against [N,H,W,1]) sums the gradient back.
        const axes = tf.backend_util.getReductionAxes(xs.shape, g.shape);
        return axes.length ? tf.reshape(tf.sum(g, axes), xs.shape) : g;
      }),
    };
  });
  return f(x);
}
