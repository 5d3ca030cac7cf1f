/**
 * Turns an attribution into FlashTorch's three pictures — input, colour-mapped saliency, overlay — and one
 * side-by-side figure. Split in two steps so a viewer can re-colour without re-normalising.
 */
import type { Attribution, ColormapName, DisplaySettings, ReduceMode } from '../protocol';
import { BadInputError } from '../errors';
import { colormapLut } from './colormaps';
import { type NormalizedMap, normalizeMap } from './normalize';
import { isSignedReduction, reduceChannels } from './reduce';
import type { RgbaPixels } from './types';
import { filledRgba } from './types';
import { resizeBilinear } from './upsample';

/** The default overlay opacity of the saliency colours. */
export const DEFAULT_ALPHA = 0.5;

/** Pixels given as any byte container (protocol messages carry ArrayBuffers). */
export interface RgbaLike {
  width: number;
  height: number;
  data: ArrayBuffer | Uint8Array | Uint8ClampedArray;
}

/** An attribution whose data may be an ArrayBuffer (protocol) or a Float32Array. */
export type AttributionLike = Omit<Attribution, 'data'> & { data: ArrayBuffer | Float32Array };

/** FlashTorch's three panels plus the combined figure. */
export interface SaliencyPanels {
  input: RgbaPixels;
  map: RgbaPixels;
  overlay: RgbaPixels;
  figure: RgbaPixels;
  normalized: NormalizedMap;
}

/** Validates an overlay opacity from an option or a setting (0 ≤ alpha ≤ 1). */
export function parseAlpha(value: unknown, subject: string): number {
  const a = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof a !== 'number' || !Number.isFinite(a) || a < 0 || a > 1) {
    throw new BadInputError(subject, `alpha must be a number in [0, 1] (got ${JSON.stringify(value)})`);
  }
  return a;
}

/** Views any byte container as a Uint8Array without copying. */
export function asBytes(data: ArrayBuffer | Uint8Array | Uint8ClampedArray): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Checks an image's byte count and views its bytes as a Uint8Array. */
export function asRgba(image: RgbaLike): RgbaPixels {
  const data = asBytes(image.data);
  if (data.length !== image.width * image.height * 4) throw new Error(`RGBA image ${image.width}×${image.height} has ${data.length} bytes`);
  return { width: image.width, height: image.height, data };
}

/**
 * Reduces, clips and normalises an attribution, resized bilinearly to width×height when its size differs
 * (CAM maps are coarser than the input).
 */
export function prepareMap(attribution: AttributionLike, reduce: ReduceMode, clipPercentile: number, width: number, height: number): NormalizedMap {
  const values = attribution.data instanceof Float32Array ? attribution.data : new Float32Array(attribution.data);
  const reduced = reduceChannels(values, attribution.height, attribution.width, attribution.channels, reduce);
  const signed = isSignedReduction(reduce, attribution.signed);
  // Normalise before resizing: the percentile then describes the attribution itself, not interpolated values.
  const normalized = normalizeMap(reduced, signed, clipPercentile);
  if (normalized.width === width && normalized.height === height) return normalized;
  return { ...resizeBilinear(normalized, width, height), clipValue: normalized.clipValue, signed };
}

/** Whether values are placed with 0 at the colour map's centre: signed maps, and always for the diverging map. */
export function centredLut(signed: boolean, colormap: ColormapName): boolean {
  return signed || colormap === 'diverging';
}

/** True on little-endian machines (all that run Node and VS Code in practice): RGBA words are 0xAABBGGRR. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const wordCache = new Map<ColormapName, Int32Array>();

/** The LUT as opaque RGBA words in memory byte order, one store per pixel (shared: do not modify). */
function rgbaWords(colormap: ColormapName): Int32Array {
  let words = wordCache.get(colormap);
  if (words) return words;
  const lut = colormapLut(colormap);
  words = new Int32Array(256);
  const bytes = new Uint8Array(words.buffer);
  for (let i = 0; i < 256; i++) bytes.set([lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2], 255], i * 4);
  wordCache.set(colormap, words);
  return words;
}

/**
 * The scale and offset taking a normalised value to its LUT index as `(v * scale + offset) | 0` (then
 * clamped to 0–255): signed values in [-1, 1] go to (v + 1) / 2 of the table; "| 0" truncates, "+ 0.5" rounds.
 */
export function lutScale(centred: boolean): { scale: number; offset: number } {
  return centred ? { scale: 127.5, offset: 128 } : { scale: 255, offset: 0.5 };
}

/** LUT indices of normalised values (see lutScale), written to `out` (a new array when absent). */
export function lutIndices(values: Float32Array, centred: boolean, out: Uint8Array = new Uint8Array(values.length)): Uint8Array {
  const { scale, offset } = lutScale(centred);
  for (let i = 0; i < values.length; i++) {
    const k = (values[i] * scale + offset) | 0;
    out[i] = k < 0 ? 0 : k > 255 ? 255 : k;
  }
  return out;
}

/** Opaque colours of LUT indices as RGBA words, written to `out` (a new array when absent). */
export function paintIndices(indices: Uint8Array, colormap: ColormapName, out: Uint32Array = new Uint32Array(indices.length)): Uint32Array {
  // Int32 views: opaque words exceed 2³¹, which as Uint32 values would leave integer arithmetic.
  const words = rgbaWords(colormap);
  const dst = new Int32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < indices.length; i++) dst[i] = words[indices[i]];
  return out;
}

/** A view of RGBA bytes as one Int32 per pixel (copying only when the bytes are not 4-byte aligned). */
function asWords(bytes: Uint8Array): Int32Array {
  if (bytes.byteOffset % 4 === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Int32Array(bytes.slice().buffer);
}

/**
 * Blends the colours of LUT indices over RGBA pixels: (1 − alpha)·image + alpha·colour, keeping the image's
 * alpha; written to `out` (a new array when absent, one byte per channel). With `colours`, also writes the
 * opaque colours (as paintIndices) in the same pass.
 */
export function blendIndices(image: Uint8Array, indices: Uint8Array, colormap: ColormapName, alpha: number,
  out: Uint8Array = new Uint8Array(image.length), colours?: Uint32Array): Uint8Array {
  const lut = colormapLut(colormap);
  // 8-bit fixed-point weights a + b = 256: exact at alpha 0 and 1.
  const a = Math.round(Math.min(1, Math.max(0, alpha)) * 256);
  const b = 256 - a;
  if (LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
    // Red and blue blend together in the two 16-bit lanes of one word (255·256 + 128 fits a lane), green
    // alone; the colour side is premultiplied per LUT entry. Words wrap as int32 (imul, | 0) and are
    // reinterpreted, never converted: the same bits as uint32 arithmetic, without leaving integers.
    const colourRB = new Int32Array(256);
    const colourG = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      colourRB[i] = (lut[i * 3] + (lut[i * 3 + 2] << 16)) * a + 0x00800080;
      colourG[i] = lut[i * 3 + 1] * a + 0x80;
    }
    const src = asWords(image);
    const dst = new Int32Array(out.buffer, out.byteOffset, indices.length);
    if (colours) {
      const words = rgbaWords(colormap);
      const paint = new Int32Array(colours.buffer, colours.byteOffset, indices.length);
      for (let i = 0; i < indices.length; i++) {
        const s = src[i];
        const k = indices[i];
        paint[i] = words[k];
        const rb = (((Math.imul(s & 0x00ff00ff, b) + colourRB[k]) | 0) >>> 8) & 0x00ff00ff;
        const g = (Math.imul((s >>> 8) & 0xff, b) + colourG[k]) & 0xff00;
        dst[i] = (s & 0xff000000) | rb | g;
      }
    } else {
      for (let i = 0; i < indices.length; i++) {
        const s = src[i];
        const k = indices[i];
        const rb = (((Math.imul(s & 0x00ff00ff, b) + colourRB[k]) | 0) >>> 8) & 0x00ff00ff;
        const g = (Math.imul((s >>> 8) & 0xff, b) + colourG[k]) & 0xff00;
        dst[i] = (s & 0xff000000) | rb | g;
      }
    }
  } else {
    if (colours) paintIndices(indices, colormap, colours);
    for (let i = 0, o = 0; i < indices.length; i++, o += 4) {
      const k = indices[i] * 3;
      out[o] = (image[o] * b + lut[k] * a + 128) >> 8;
      out[o + 1] = (image[o + 1] * b + lut[k + 1] * a + 128) >> 8;
      out[o + 2] = (image[o + 2] * b + lut[k + 2] * a + 128) >> 8;
      out[o + 3] = image[o + 3];
    }
  }
  return out;
}

/** Paints a normalised map with a colour map, opaque. */
export function colorize(map: NormalizedMap, colormap: ColormapName): RgbaPixels {
  const words = paintIndices(lutIndices(map.data, centredLut(map.signed, colormap)), colormap);
  return { width: map.width, height: map.height, data: new Uint8Array(words.buffer) };
}

/**
 * Blends the colour-mapped saliency over the input: out = (1 − alpha)·input + alpha·colour, keeping the
 * input's own alpha. The map must have the input's size (see prepareMap).
 */
export function overlay(input: RgbaLike, map: NormalizedMap, colormap: ColormapName, alpha: number): RgbaPixels {
  const image = asRgba(input);
  if (map.width !== image.width || map.height !== image.height) {
    throw new Error(`overlay: map ${map.width}×${map.height} does not match image ${image.width}×${image.height}`);
  }
  const indices = lutIndices(map.data, centredLut(map.signed, colormap));
  return { width: image.width, height: image.height, data: blendIndices(image.data, indices, colormap, alpha) };
}

/** Places images left to right, top-aligned, with `gap` pixels between them, on a background colour. */
export function sideBySide(images: readonly RgbaPixels[], gap = 8, background: readonly [number, number, number, number] = [255, 255, 255, 255]): RgbaPixels {
  const width = images.reduce((sum, im) => sum + im.width, 0) + gap * Math.max(0, images.length - 1);
  const height = images.reduce((max, im) => Math.max(max, im.height), 0);
  const figure = filledRgba(width, height, background);
  let left = 0;
  for (const image of images) {
    for (let y = 0; y < image.height; y++) {
      figure.data.set(image.data.subarray(y * image.width * 4, (y + 1) * image.width * 4), (y * width + left) * 4);
    }
    left += image.width + gap;
  }
  return figure;
}

/** Renders the three panels and the combined figure for an attribution over the model's input image. */
export function renderPanels(attribution: AttributionLike, input: RgbaLike, display: DisplaySettings, gap = 8): SaliencyPanels {
  const image = asRgba(input);
  const normalized = prepareMap(attribution, display.reduce, display.clipPercentile, image.width, image.height);
  const map = colorize(normalized, display.colormap);
  const blended = overlay(image, normalized, display.colormap, display.alpha);
  return { input: image, map, overlay: blended, figure: sideBySide([image, map, blended], gap), normalized };
}
