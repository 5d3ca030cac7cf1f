/**
 * Fits a decoded image to the model's input size: `squash` (resize both sides) or `center-crop` (short side to
 * size, then a centred crop, as torchvision's Resize + CenterCrop in FlashTorch's pipeline). Resampling is
 * antialiased bilinear (a triangle filter widened by the reduction factor), like PIL's BILINEAR.
 */
import type { ResizeMode } from '../../shared/protocol';
import { BadInputError } from '../../shared/errors';
import type { RgbImage } from './decode';

/** All resize modes. */
export const RESIZE_MODES: readonly ResizeMode[] = ['squash', 'center-crop'];

/** Where an image is cropped after scaling, in the scaled image's pixels. */
export interface FitPlan {
  scaledWidth: number;
  scaledHeight: number;
  left: number;
  top: number;
}

/** Python's round(): halves go to the even neighbour (torchvision's crop offsets use it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Plans the scaling and crop that fit a width×height image to targetWidth×targetHeight. */
export function planFit(width: number, height: number, targetWidth: number, targetHeight: number, mode: ResizeMode): FitPlan {
  if (mode === 'squash') return { scaledWidth: targetWidth, scaledHeight: targetHeight, left: 0, top: 0 };
  let scaledWidth: number;
  let scaledHeight: number;
  // Scale so the image covers the target; the covering side is truncated as torchvision does (int()).
  if (targetHeight * width >= targetWidth * height) {
    scaledHeight = targetHeight;
    scaledWidth = Math.max(targetWidth, Math.floor((width * targetHeight) / height));
  } else {
    scaledWidth = targetWidth;
    scaledHeight = Math.max(targetHeight, Math.floor((height * targetWidth) / width));
  }
  return {
    scaledWidth,
    scaledHeight,
    left: roundHalfEven((scaledWidth - targetWidth) / 2),
    top: roundHalfEven((scaledHeight - targetHeight) / 2),
  };
}

/** For each output index: the first source index and the normalised triangle-filter weights. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  maxTaps: number;
}

function computeTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  // Widening the filter when shrinking is what makes it antialiased.
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const first = Math.max(0, Math.floor(centre - support + 0.5));
    const last = Math.min(inSize, Math.floor(centre + support + 0.5));
    let total = 0;
    const n = last - first;
    for (let k = 0; k < n; k++) {
      const w = Math.max(0, 1 - Math.abs((first + k + 0.5 - centre) / filterScale));
      weights[i * maxTaps + k] = w;
      total += w;
    }
    for (let k = 0; k < n; k++) weights[i * maxTaps + k] = total > 0 ? weights[i * maxTaps + k] / total : 0;
    start[i] = first;
    count[i] = n;
  }
  return { start, count, weights, maxTaps };
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Resamples interleaved 8-bit pixels; each pass rounds to 8 bits as PIL does. */
export function resampleBytes(
  src: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number,
): Uint8Array {
  if (width === outWidth && height === outHeight) return src;
  let rows = src;
  let rowWidth = width;
  if (outWidth !== width) {
    const taps = computeTaps(width, outWidth);
    rows = new Uint8Array(outWidth * height * channels);
    for (let y = 0; y < height; y++) {
      const inRow = y * width * channels;
      const outRow = y * outWidth * channels;
      for (let x = 0; x < outWidth; x++) {
        const first = taps.start[x];
        const n = taps.count[x];
        const wBase = x * taps.maxTaps;
        if (channels === 3) {
          // RGB: one pass over the taps with three accumulators, the hot loop when shrinking photos.
          let r = 0;
          let g = 0;
          let b = 0;
          for (let k = 0, j = inRow + first * 3; k < n; k++, j += 3) {
            const w = taps.weights[wBase + k];
            r += w * src[j];
            g += w * src[j + 1];
            b += w * src[j + 2];
          }
          const o = outRow + x * 3;
          rows[o] = clampByte(r);
          rows[o + 1] = clampByte(g);
          rows[o + 2] = clampByte(b);
          continue;
        }
        for (let c = 0; c < channels; c++) {
          let acc = 0;
          for (let k = 0; k < n; k++) acc += taps.weights[wBase + k] * src[inRow + (first + k) * channels + c];
          rows[outRow + x * channels + c] = clampByte(acc);
        }
      }
    }
    rowWidth = outWidth;
  }
  if (outHeight === height) return rows;
  const taps = computeTaps(height, outHeight);
  const out = new Uint8Array(rowWidth * outHeight * channels);
  const rowLength = rowWidth * channels;
  const acc = new Float64Array(rowLength);
  for (let y = 0; y < outHeight; y++) {
    acc.fill(0);
    const first = taps.start[y];
    const n = taps.count[y];
    for (let k = 0; k < n; k++) {
      const w = taps.weights[y * taps.maxTaps + k];
      const inRow = (first + k) * rowLength;
      for (let i = 0; i < rowLength; i++) acc[i] += w * rows[inRow + i];
    }
    const outRow = y * rowLength;
    for (let i = 0; i < rowLength; i++) out[outRow + i] = clampByte(acc[i]);
  }
  return out;
}

/** Copies a rectangle out of an interleaved image. */
function cropBytes(src: Uint8Array, width: number, channels: number, left: number, top: number, outWidth: number, outHeight: number): Uint8Array {
  const out = new Uint8Array(outWidth * outHeight * channels);
  for (let y = 0; y < outHeight; y++) {
    const from = ((top + y) * width + left) * channels;
    out.set(src.subarray(from, from + outWidth * channels), y * outWidth * channels);
  }
  return out;
}

/**
 * Fits an RGB image to height×width (the model's [H, W]). An image that already has that size is returned
 * as is (same bytes, no resampling), so feeding a model its native size is exactly the identity.
 */
export function fitImage(image: RgbImage, height: number, width: number, mode: ResizeMode): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new BadInputError('input size', `must be positive integers, got ${height}×${width} (height×width)`);
  }
  if (!RESIZE_MODES.includes(mode)) throw new BadInputError('--resize', `unknown mode "${mode}" (expected ${RESIZE_MODES.join(' or ')})`);
  if (image.width === width && image.height === height) return image;
  const plan = planFit(image.width, image.height, width, height, mode);
  const scaled = resampleBytes(image.data, image.width, image.height, 3, plan.scaledWidth, plan.scaledHeight);
  if (plan.scaledWidth === width && plan.scaledHeight === height) return { width, height, data: scaled };
  return { width, height, data: cropBytes(scaled, plan.scaledWidth, 3, plan.left, plan.top, width, height) };
}
