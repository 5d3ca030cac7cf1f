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

/**
 * Bilinear taps: 4 input offsets (pixel index, no channel) and weights per output pixel, and per output pixel
 * the total weight of taps that fell outside the input (they read the fill value).
 */
interface Taps {
  index: Int32Array;
  weight: Float32Array;
  outside: Float32Array;
}

/** Writes one tap at slot k: its input pixel, or a zero weight when the pixel lies outside the input. */
function setTap(taps: Taps, k: number, base: number, y: number, x: number, w: number, inH: number, inW: number): number {
  if (y >= 0 && y < inH && x >= 0 && x < inW) {
    taps.index[k] = base + y * inW + x;
    taps.weight[k] = w;
    return 0;
  }
  taps.index[k] = base;
  taps.weight[k] = 0;
  return w;
}

function computeTaps(maps: readonly Affine[], inH: number, inW: number, outH: number, outW: number, fill: boolean): Taps {
  const n = maps.length;
  const taps: Taps = {
    index: new Int32Array(n * outH * outW * 4),
    weight: new Float32Array(n * outH * outW * 4),
    outside: new Float32Array(n * outH * outW),
  };
  const cyIn = (inH - 1) / 2;
  const cxIn = (inW - 1) / 2;
  const cyOut = (outH - 1) / 2;
  const cxOut = (outW - 1) / 2;
  let p = 0;
  for (let b = 0; b < n; b++) {
    const { a, b: mb, c, d, ty, tx } = maps[b];
    const base = b * inH * inW;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++, p++) {
        let sy = a * (y - cyOut) + mb * (x - cxOut) + ty + cyIn;
        let sx = c * (y - cyOut) + d * (x - cxOut) + tx + cxIn;
        if (!fill) {
          // Coordinates outside the input replicate its border.
          sy = sy < 0 ? 0 : sy > inH - 1 ? inH - 1 : sy;
          sx = sx < 0 ? 0 : sx > inW - 1 ? inW - 1 : sx;
        }
        // With a fill value, taps outside the input read it (a padding of any width, never materialised).
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const wy = sy - y0;
        const wx = sx - x0;
        const k = p * 4;
        let out = setTap(taps, k, base, y0, x0, (1 - wy) * (1 - wx), inH, inW);
        out += setTap(taps, k + 1, base, y0, x0 + 1, (1 - wy) * wx, inH, inW);
        out += setTap(taps, k + 2, base, y0 + 1, x0, wy * (1 - wx), inH, inW);
        out += setTap(taps, k + 3, base, y0 + 1, x0 + 1, wy * wx, inH, inW);
        taps.outside[p] = out;
      }
    }
  }
  return taps;
}

function gather(src: Float32Array | Int32Array | Uint8Array, taps: Taps, pixels: number, channels: number, fill: number): Float32Array {
  const out = new Float32Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const o = taps.outside[p] * fill;
    if (o !== 0) for (let c = 0; c < channels; c++) out[p * channels + c] = o;
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
 * to `x` (the backward pass is the exact adjoint of the forward interpolation). Samples outside the input
 * read `fill` when given (as if the input were padded with it), else the nearest border pixel.
 */
export function affineResample(x: tf.Tensor4D, maps: readonly Affine[], outH: number, outW: number, fill?: number): tf.Tensor4D {
  const [n, inH, inW, channels] = x.shape;
  if (maps.length !== n) throw new Error(`affineResample: ${maps.length} maps for a batch of ${n}`);
  const taps = computeTaps(maps, inH, inW, outH, outW, fill !== undefined);
  const pixels = n * outH * outW;
  const op = tf.customGrad(((input: tf.Tensor) => {
    const value = tf.tensor4d(gather(input.dataSync(), taps, pixels, channels, fill ?? 0), [n, outH, outW, channels]);
    const gradFunc = (dy: tf.Tensor) => tf.tensor4d(scatter(dy.dataSync(), taps, pixels, channels, input.size), [n, inH, inW, channels]);
    return { value, gradFunc };
  }) as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor4D;
}
