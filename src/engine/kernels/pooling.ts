/**
 * Max pooling whose input gradient is one JS pass on cpu/wasm (wasm's MaxPoolGrad: 13 ms at
 * 112×112×32, this: ~1 ms). The gradient goes to the FIRST maximum of each window in row-major order,
 * padding never counts, exactly as tfjs's own MaxPoolGrad; scatter and gather are each other's
 * gradient so nested tf.grad works.
 */
import * as tf from '@tensorflow/tfjs-core';
import { convGeometry } from './conv_plan';
import { defineJsKernel, fastGradientsEnabled, jsKernelsAvailable, runJsKernel } from './js_kernel';

const SCATTER = 'SaliencyLensMaxPoolScatter';
const GATHER = 'SaliencyLensMaxPoolGather';

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

/**
 * For every window and channel finds the FIRST maximum (strict >, NaN and padding never win); scatter
 * mode adds dy there into dx, gather mode reads g from there into the pooled-shaped out.
 */
function argmaxPass(x: Float32Array, [n, h, w, c]: number[], a: PoolAttrs, from: Float32Array, to: Float32Array, scatter: boolean): void {
  const { kh, kw, sh, sw, pt, pl, outH, outW } = a;
  // Offsets of the window's in-bounds pixels, in row-major order, relative to its first one.
  const taps = new Int32Array(kh * kw);
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sh - pt;
      const hLo = Math.max(0, h0);
      const hHi = Math.min(h, h0 + kh);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sw - pl;
        const wLo = Math.max(0, w0);
        const wHi = Math.min(w, w0 + kw);
        const first = ((b * h + hLo) * w + wLo) * c;
        const yBase = ((b * outH + oh) * outW + ow) * c;
        if (hHi - hLo === 2 && wHi - wLo === 2) {
          pick2x2(x, first, first + c, first + w * c, first + (w + 1) * c, yBase, c, from, to, scatter);
          continue;
        }
        let nt = 0;
        for (let ih = hLo; ih < hHi; ih++) for (let iw = wLo; iw < wHi; iw++) taps[nt++] = first + ((ih - hLo) * w + (iw - wLo)) * c;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          // Branch-free select: on real data the comparison is a coin flip the CPU cannot predict.
          for (let t = 0; t < nt; t++) {
            const i = taps[t] + ch;
            const v = x[i];
            const gt = v > best;
            best = gt ? v : best;
            at = gt ? i : at;
          }
          if (at < 0) continue;
          if (scatter) to[at] += from[yBase + ch];
          else to[yBase + ch] = from[at];
        }
      }
    }
  }
}

/** The 2×2 window (the common pool) unrolled; p0..p3 are its pixels in row-major order. */
function pick2x2(
  x: Float32Array, p0: number, p1: number, p2: number, p3: number, yBase: number, c: number,
  from: Float32Array, to: Float32Array, scatter: boolean,
): void {
  for (let ch = 0; ch < c; ch++) {
    // Start below every value so that NaN never wins, as in the generic scan.
    let best = -Infinity;
    let at = -1;
    const v0 = x[p0 + ch];
    let gt = v0 > best;
    best = gt ? v0 : best;
    at = gt ? p0 + ch : at;
    const v1 = x[p1 + ch];
    gt = v1 > best;
    best = gt ? v1 : best;
    at = gt ? p1 + ch : at;
    const v2 = x[p2 + ch];
    gt = v2 > best;
    best = gt ? v2 : best;
    at = gt ? p2 + ch : at;
    const v3 = x[p3 + ch];
    gt = v3 > best;
    at = gt ? p3 + ch : at;
    if (at < 0) continue;
    if (scatter) to[at] += from[yBase + ch];
    else to[yBase + ch] = from[at];
  }
}

defineJsKernel({
  name: SCATTER,
  inputNames: ['x', 'dy'],
  outShapes: ([xShape]) => [xShape],
  body: ([x, dy], [xShape], [dx], attrs) => argmaxPass(x, xShape, poolAttrs(attrs), dy, dx, true),
});

defineJsKernel({
  name: GATHER,
  inputNames: ['x', 'g'],
  outShapes: ([[n, , , c]], attrs) => [[n, attrs.outH as number, attrs.outW as number, c]],
  body: ([x, g], [xShape], [out], attrs) => argmaxPass(x, xShape, poolAttrs(attrs), g, out, false),
});

// The argmax is piecewise constant in x, so x gets a zero gradient; dy and g are linear.
tf.registerGradient({
  kernelName: SCATTER,
  inputsToSave: ['x'],
  gradFunc: (ddx, [x], attrs) => ({
    x: () => tf.zerosLike(x),
    dy: () => runJsKernel(GATHER, [x, ddx as tf.Tensor], attrs),
  }),
});
tf.registerGradient({
  kernelName: GATHER,
  inputsToSave: ['x'],
  gradFunc: (dOut, [x], attrs) => ({
    x: () => tf.zerosLike(x),
    g: () => runJsKernel(SCATTER, [x, dOut as tf.Tensor], attrs),
  }),
});

/** Resolves a pooling padding into the kernels' attributes (tfjs's 'same' rule, as for convs). */
function attrsFor(x: tf.Tensor4D, k: [number, number], s: [number, number], pad: 'same' | 'valid'): PoolAttrs {
  const geo = convGeometry(x.shape[1], x.shape[2], k[0], k[1], s, [1, 1], pad);
  return { kh: k[0], kw: k[1], sh: s[0], sw: s[1], pt: geo.pad[0], pl: geo.pad[2], outH: geo.outH, outW: geo.outW };
}

/** 2-D max pooling (NHWC) with a fast, exact input gradient. */
export function maxPoolInputGradFriendly(
  x: tf.Tensor4D, filterSize: [number, number], strides: [number, number], pad: 'same' | 'valid',
): tf.Tensor4D {
  if (!jsKernelsAvailable() || !fastGradientsEnabled()) return tf.maxPool(x, filterSize, strides, pad);
  const f = tf.customGrad((xIn, save) => {
    const xs = xIn as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xs]);
    return {
      value: tf.maxPool(xs, filterSize, strides, pad),
      gradFunc: (dy, saved) => {
        const attrs = attrsFor(saved[0] as tf.Tensor4D, filterSize, strides, pad);
        return runJsKernel(SCATTER, [saved[0], dy as tf.Tensor], attrs as unknown as tf.NamedAttrMap);
      },
    };
  });
  return f(x) as tf.Tensor4D;
}
