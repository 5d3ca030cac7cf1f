/**
 * Max pooling whose input gradient is one JS pass on cpu/wasm (wasm's MaxPoolGrad: 13 ms at
 * 112×112×32). The gradient goes to the FIRST maximum of each window in row-major order, padding
 * never counts, exactly as tfjs's own MaxPoolGrad; scatter and gather are each other's gradient so
 * nested tf.grad works. Explicit padding goes to the pooling kernel itself (no padded copy of x).
 */
import * as tf from '@tensorflow/tfjs-core';
import { convGeometry } from './conv_plan';
import { defineJsKernel, fastGradientsEnabled, jsKernelsAvailable, runJsKernel } from './js_kernel';
import { wasmKernelsFor } from './wasm_kernels';

const SCATTER = 'SaliencyLensMaxPoolScatter';
const GATHER = 'SaliencyLensMaxPoolGather';

/** Pooling padding: a tfjs keyword or explicit [top, bottom, left, right] (padding never wins). */
export type PoolPadding = 'same' | 'valid' | [number, number, number, number];

interface PoolAttrs {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  outH: number;
  outW: number;
}

const poolAttrs = (a: tf.NamedAttrMap): PoolAttrs => a as unknown as PoolAttrs;

/** The first strict maximum of one window and channel (NaN never wins); -1 if there is none. */
function firstMax(x: Float32Array, first: number, rows: number, cols: number, rowStep: number, c: number): number {
  let best = -Infinity;
  let at = -1;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const p = first + i * rowStep + j * c;
      if (x[p] > best) {
        best = x[p];
        at = p;
      }
    }
  }
  return at;
}

/**
 * For every window and channel finds where the forward max `y` came from; scatter mode adds `from`
 * (dy) there into dx, gather mode reads `from` (g) from there into the pooled-shaped `to`. Knowing y,
 * the first maximum is the first tap equal to it: the taps are scanned backwards with branch-free
 * arithmetic (a data-dependent branch mispredicts on real data and costs ~4× as much). Without y (x has
 * NaN) and where y is -Infinity, the plain scan keeps tfjs's rules: NaN never wins, -Infinity never does.
 */
function argmaxPass(
  x: Float32Array, y: Float32Array | undefined, [n, h, w, c]: number[], a: PoolAttrs, from: Float32Array, to: Float32Array,
  scatter: boolean,
): void {
  const { kh, kw, sh, sw, pt, pl, outH, outW } = a;
  const at = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sh - pt;
      const hLo = Math.max(0, h0);
      const hHi = Math.min(h, h0 + kh);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sw - pl;
        const wLo = Math.max(0, w0);
        const wHi = Math.min(w, w0 + kw);
        const yBase = ((b * outH + oh) * outW + ow) * c;
        at.fill(-1);
        for (let ih = hHi - 1; y && ih >= hLo; ih--) {
          for (let iw = wHi - 1; iw >= wLo; iw--) {
            const p = ((b * h + ih) * w + iw) * c;
            for (let ch = 0; ch < c; ch++) {
              const hit = +(x[p + ch] === y[yBase + ch]);
              at[ch] += hit * (p + ch - at[ch]);
            }
          }
        }
        for (let ch = 0; ch < c; ch++) {
          let i = at[ch];
          if (i < 0 || !(y![yBase + ch] > -Infinity)) {
            i = firstMax(x, ((b * h + hLo) * w + wLo) * c + ch, hHi - hLo, wHi - wLo, w * c, c);
            if (i < 0) continue;
          }
          if (scatter) to[i] += from[yBase + ch];
          else to[yBase + ch] = from[i];
        }
      }
    }
  }
}

/** Whether any value is NaN. */
function hasNaN(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== v[i]) return true;
  return false;
}

defineJsKernel({
  name: SCATTER,
  inputNames: ['x', 'y', 'dy'],
  outShapes: ([xShape]) => [xShape],
  body: ([x, y, dy], [xShape], [dx], attrs) => {
    const a = poolAttrs(attrs);
    const [n, h, w, c] = xShape;
    const simd = wasmKernelsFor(x, y, dy, dx);
    // Over NaN the pooled maximum depends on the order its kernel compared the taps: scan from scratch.
    const nan = simd ? simd.anyNaN(x.byteOffset, x.length) === 1 : hasNaN(x);
    if (simd && !nan && c % 4 === 0) {
      simd.maxPoolScatter(x.byteOffset, y.byteOffset, dy.byteOffset, dx.byteOffset, n, h, w, c, a.kh, a.kw, a.sh, a.sw, a.pt, a.pl, a.outH, a.outW);
    } else {
      argmaxPass(x, nan ? undefined : y, xShape, a, dy, dx, true);
    }
  },
});

defineJsKernel({
  name: GATHER,
  inputNames: ['x', 'y', 'g'],
  outShapes: ([[n, , , c]], attrs) => [[n, attrs.outH as number, attrs.outW as number, c]],
  body: ([x, y, g], [xShape], [out], attrs) => argmaxPass(x, hasNaN(x) ? undefined : y, xShape, poolAttrs(attrs), g, out, false),
});

// The argmax is piecewise constant in x and y, so they get a zero gradient; dy and g are linear.
tf.registerGradient({
  kernelName: SCATTER,
  inputsToSave: ['x', 'y'],
  gradFunc: (ddx, [x, y], attrs) => ({
    x: () => tf.zerosLike(x),
    y: () => tf.zerosLike(y),
    dy: () => runJsKernel(GATHER, [x, y, ddx as tf.Tensor], attrs),
  }),
});
tf.registerGradient({
  kernelName: GATHER,
  inputsToSave: ['x', 'y'],
  gradFunc: (dOut, [x, y], attrs) => ({
    x: () => tf.zerosLike(x),
    y: () => tf.zerosLike(y),
    g: () => runJsKernel(SCATTER, [x, y, dOut as tf.Tensor], attrs),
  }),
});

type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

/** Resolves a pooling padding into the kernels' attributes (tfjs's 'same' rule, as for convs). */
function attrsFor(x: tf.Tensor4D, k: [number, number], s: [number, number], pad: 'same' | 'valid' | ExplicitPad): PoolAttrs {
  const geo = convGeometry(x.shape[1], x.shape[2], k[0], k[1], s, [1, 1], pad);
  return { kh: k[0], kw: k[1], sh: s[0], sw: s[1], pt: geo.pad[0], pl: geo.pad[2], outH: geo.outH, outW: geo.outW };
}

/** 2-D max pooling (NHWC) with a fast, exact input gradient. */
export function maxPoolInputGradFriendly(
  x: tf.Tensor4D, filterSize: [number, number], strides: [number, number], pad: PoolPadding,
): tf.Tensor4D {
  if (!jsKernelsAvailable() || !fastGradientsEnabled()) {
    if (typeof pad === 'string') return tf.maxPool(x, filterSize, strides, pad);
    // The stock gradients need the padding written out; the fill stands in for -Infinity.
    const [t, b, l, r] = pad;
    return tf.tidy(() => tf.maxPool(tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]], -3.4e38) as tf.Tensor4D, filterSize, strides, 'valid'));
  }
  const tfPad: 'same' | 'valid' | ExplicitPad = typeof pad === 'string' ? pad : [[0, 0], [pad[0], pad[1]], [pad[2], pad[3]], [0, 0]];
  const f = tf.customGrad((xIn, save) => {
    const xs = xIn as tf.Tensor4D;
    const y = tf.maxPool(xs, filterSize, strides, tfPad);
    // The output is saved too: the backward pass looks for where each maximum came from.
    (save as tf.GradSaveFunc)([xs, y]);
    return {
      value: y,
      gradFunc: (dy, [xSaved, ySaved]) => {
        const attrs = attrsFor(xSaved as tf.Tensor4D, filterSize, strides, tfPad);
        return runJsKernel(SCATTER, [xSaved, ySaved, dy as tf.Tensor], attrs as unknown as tf.NamedAttrMap);
      },
    };
  });
  return f(x) as tf.Tensor4D;
}
