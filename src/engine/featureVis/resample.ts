/**
 * Differentiable affine resampling (rotation, scale, translation) with bilinear interpolation, computed in
 * JavaScript: a custom op whose forward gathers and whose backward scatters with the same weights. It needs no
 * backend kernel (tf.image.transform has no gradient, gather's gradient is missing on wasm).
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Maps output pixels to input coordinates for one image: for an output pixel at offset (dy, dx) from the
 * output's centre, the input is sampled at (a·dy + b·dx + ty, c·dy + d·dx + tx) from the input's centre.
 */
export interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  ty: number;
  tx: number;
}

/** The identity map (with an optional translation). */
export function translation(ty = 0, tx = 0): Affine {
  return { a: 1, b: 0, c: 0, d: 1, ty, tx };
}

/** Bilinear taps: 4 input offsets (pixel index, no channel) and weights per output pixel. */
interface Taps {
  index: Int32Array;
  weight: Float32Array;
}

function computeTaps(maps: readonly Affine[], inH: number, inW: number, outH: number, outW: number): Taps {
  const n = maps.length;
  const index = new Int32Array(n * outH * outW * 4);
  const weight = new Float32Array(n * outH * outW * 4);
  const cyIn = (inH - 1) / 2;
  const cxIn = (inW - 1) / 2;
  const cyOut = (outH - 1) / 2;
  const cxOut = (outW - 1) / 2;
  const clampY = (v: number) => (v < 0 ? 0 : v > inH - 1 ? inH - 1 : v);
  const clampX = (v: number) => (v < 0 ? 0 : v > inW - 1 ? inW - 1 : v);
  let k = 0;
  for (let b = 0; b < n; b++) {
    const m = maps[b];
    const base = b * inH * inW;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const dy = y - cyOut;
        const dx = x - cxOut;
        // Coordinates outside the input replicate its border (callers pad first).
        const sy = clampY(m.a * dy + m.b * dx + m.ty + cyIn);
        const sx = clampX(m.c * dy + m.d * dx + m.tx + cxIn);
        const y0 = Math.min(Math.floor(sy), inH - 1);
        const x0 = Math.min(Math.floor(sx), inW - 1);
        const y1 = Math.min(y0 + 1, inH - 1);
        const x1 = Math.min(x0 + 1, inW - 1);
        const wy = sy - y0;
        const wx = sx - x0;
        index[k] = base + y0 * inW + x0;
        weight[k++] = (1 - wy) * (1 - wx);
        index[k] = base + y0 * inW + x1;
        weight[k++] = (1 - wy) * wx;
        index[k] = base + y1 * inW + x0;
        weight[k++] = wy * (1 - wx);
        index[k] = base + y1 * inW + x1;
        weight[k++] = wy * wx;
      }
    }
  }
  return { index, weight };
}

function gather(src: Float32Array | Int32Array | Uint8Array, taps: Taps, pixels: number, channels: number): Float32Array {
  const out = new Float32Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    for (let t = 0; t < 4; t++) {
      const w = taps.weight[p * 4 + t];
      if (w === 0) continue;
      const from = taps.index[p * 4 + t] * channels;
      for (let c = 0; c < channels; c++) out[p * channels + c] += w * src[from + c];
    }
  }
  return out;
}

function scatter(dy: Float32Array | Int32Array | Uint8Array, taps: Taps, pixels: number, channels: number, inSize: number): Float32Array {
  const out = new Float32Array(inSize);
  for (let p = 0; p < pixels; p++) {
    for (let t = 0; t < 4; t++) {
      const w = taps.weight[p * 4 + t];
      if (w === 0) continue;
      const to = taps.index[p * 4 + t] * channels;
      for (let c = 0; c < channels; c++) out[to + c] += w * dy[p * channels + c];
    }
  }
  return out;
}

/**
 * Resamples each image of an NHWC batch with its own affine map to outH×outW; differentiable with respect
 * to `x` (the backward pass is the exact adjoint of the forward interpolation).
 */
export function affineResample(x: tf.Tensor4D, maps: readonly Affine[], outH: number, outW: number): tf.Tensor4D {
  const [n, inH, inW, channels] = x.shape;
  if (maps.length !== n) throw new Error(`affineResample: ${maps.length} maps for a batch of ${n}`);
  const taps = computeTaps(maps, inH, inW, outH, outW);
  const pixels = n * outH * outW;
  const op = tf.customGrad(((input: tf.Tensor) => {
    const value = tf.tensor4d(gather(input.dataSync(), taps, pixels, channels), [n, outH, outW, channels]);
    const gradFunc = (dy: tf.Tensor) => tf.tensor4d(scatter(dy.dataSync(), taps, pixels, channels, input.size), [n, inH, inW, channels]);
    return { value, gradFunc };
  }) as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor4D;
}
