/**
 * The panel's renderer: the pictures of renderPanels (colour-mapped map and overlay), kept up to date as
 * display settings change, redoing only the stages a change affects. Stages and what they depend on:
 * reduced map (reduction) → clip value and normalised map (clip percentile) → LUT indices at image size
 * (resize; whether the colour map is centred) → map colours (colour map) and overlay (colour map, alpha).
 * A colour map or alpha change costs one pass over the pixels, a clip change two, with no allocation:
 * buffers are reused from render to render.
 */
import type { DisplaySettings } from '../protocol';
import { type AttributionLike, asRgba, blendIndices, centredLut, lutScale, type RgbaLike } from './compose';
import { PercentileTable } from './normalize';
import { bilinearTaps } from './upsample';
import { isSignedReduction, reduceChannels } from './reduce';
import type { RgbaPixels, ScalarMap } from './types';

/** One render's pictures. Their bytes are reused by the next render: copy them to keep them. */
export interface StagedFrame {
  /** The colour-mapped saliency, opaque. */
  map: RgbaPixels;
  /** The saliency blended over the input. */
  overlay: RgbaPixels;
  /** False when `map` is the same picture as after the previous render (its canvas needs no update). */
  mapChanged: boolean;
  /** False when `overlay` is the same picture as after the previous render. */
  overlayChanged: boolean;
  /** The magnitude mapped to full scale (as NormalizedMap.clipValue). */
  clipValue: number;
}

/** The clip value of a reduced map at a percentile. */
interface ClipStage {
  of: ScalarMap;
  percentile: number;
  value: number;
}

/** LUT indices at the image's size, for a clip value and one way of placing values on the LUT. */
interface IndexStage {
  of: ClipStage;
  centred: boolean;
  data: Uint8Array;
}

/** Renders one attribution over one input image for changing display settings (see the file comment). */
export class StagedRenderer {
  private values: Float32Array | undefined;
  private attribution: AttributionLike | undefined;
  private image: RgbaPixels | undefined;
  private reduced: { reduce: string; map: ScalarMap; signed: boolean; table: PercentileTable } | undefined;
  /** The normalised map at the attribution's size; reused buffer, only needed when it is resized. */
  private normalized: Float32Array | undefined;
  // Each stage records the stage object it was computed from: a recomputed stage is a new object (its
  // buffer may be the same one, refilled).
  private clip: ClipStage | undefined;
  private indices: IndexStage | undefined;
  private colours: { of: IndexStage; colormap: string; data: Uint32Array } | undefined;
  private blended: { of: IndexStage; alpha: number; data: Uint8Array } | undefined;
  /** Rows of the attribution resized horizontally to the image width (double precision, as resizeBilinear). */
  private rows: Float64Array | undefined;

  /** Sets what is rendered: an attribution over its input image (any size; the map is resized to the image). */
  setSource(attribution: AttributionLike, input: RgbaLike): void {
    const values = attribution.data instanceof Float32Array ? attribution.data : new Float32Array(attribution.data);
    if (values.length !== attribution.height * attribution.width * attribution.channels) {
      throw new Error(`attribution ${attribution.height}×${attribution.width}×${attribution.channels} has ${values.length} values`);
    }
    const image = asRgba(input);
    const resized = !this.image || this.image.width !== image.width || this.image.height !== image.height;
    this.attribution = attribution;
    this.values = values;
    this.image = image;
    this.reduced = undefined;
    this.clip = undefined;
    this.indices = undefined;
    this.colours = undefined;
    this.blended = undefined;
    if (resized) this.rows = undefined;
  }

  /** The pictures for `display`; throws before setSource. */
  render(display: DisplaySettings): StagedFrame {
    const attribution = this.attribution;
    const image = this.image;
    if (!attribution || !image || !this.values) throw new Error('StagedRenderer.render before setSource');
    const pixels = image.width * image.height;

    let reduced = this.reduced;
    if (!reduced || reduced.reduce !== display.reduce) {
      const map = reduceChannels(this.values, attribution.height, attribution.width, attribution.channels, display.reduce);
      const signed = isSignedReduction(display.reduce, attribution.signed);
      reduced = this.reduced = { reduce: display.reduce, map, signed, table: new PercentileTable(map.data, true) };
    }

    let clip = this.clip;
    if (!clip || clip.of !== reduced.map || clip.percentile !== display.clipPercentile) {
      const value = reduced.table.at(display.clipPercentile);
      clip = this.clip = { of: reduced.map, percentile: display.clipPercentile, value };
    }

    const centred = centredLut(reduced.signed, display.colormap);
    let indices = this.indices;
    if (!indices || indices.of !== clip || indices.centred !== centred) {
      const data = indices?.data.length === pixels ? indices.data : new Uint8Array(pixels);
      this.fillIndices(reduced.map, reduced.signed, clip.value, centred, image.width, image.height, data);
      indices = this.indices = { of: clip, centred, data };
    }

    let colours = this.colours;
    let blended = this.blended;
    const mapChanged = !colours || colours.of !== indices || colours.colormap !== display.colormap;
    const overlayChanged = mapChanged || !blended || blended.of !== indices || blended.alpha !== display.alpha;
    if (mapChanged) colours = this.colours = { of: indices, colormap: display.colormap, data: colours?.data.length === pixels ? colours.data : new Uint32Array(pixels) };
    if (overlayChanged) {
      // A new colour map or new indices repaint the map in the blending pass.
      const data = blendIndices(image.data, indices.data, display.colormap, display.alpha,
        blended?.data.length === pixels * 4 ? blended.data : undefined, mapChanged ? colours!.data : undefined);
      blended = this.blended = { of: indices, alpha: display.alpha, data };
    }
    const { width, height } = image;
    return {
      map: { width, height, data: new Uint8Array(colours!.data.buffer, 0, pixels * 4) },
      overlay: { width, height, data: blended!.data },
      mapChanged,
      overlayChanged,
      clipValue: Number.isFinite(clip.value) ? clip.value : 0,
    };
  }

  /**
   * The LUT indices of the map clipped at `clipValue`, at width×height: normalizeMap, then resizeBilinear
   * when the sizes differ, then lutIndices, fused, with the same float32 roundings in between (so the same
   * indices as prepareMap + colorize).
   */
  private fillIndices(map: ScalarMap, signed: boolean, clipValue: number, centred: boolean, width: number, height: number, out: Uint8Array): void {
    const { scale, offset } = lutScale(centred);
    const n = map.data.length;
    const src = map.data;
    const usable = clipValue > 0 && Number.isFinite(clipValue);
    const inverse = usable ? 1 / clipValue : 0;
    const low = signed ? -1 : 0;
    if (map.width === width && map.height === height) {
      // Without a usable clip value inverse is 0 and every value becomes 0, as in normalizeMap. Values in
      // [low, 1] index within the LUT, so no clamping.
      for (let i = 0; i < n; i++) {
        const v = src[i] * inverse;
        // normalizeMap stores float32: round the same way before indexing.
        out[i] = (Math.fround(v > 1 ? 1 : v < low ? low : v === v ? v : 0) * scale + offset) | 0;
      }
      return;
    }
    let normalized = this.normalized;
    if (!normalized || normalized.length !== n) normalized = this.normalized = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = src[i] * inverse;
      normalized[i] = usable ? (v > 1 ? 1 : v < low ? low : v === v ? v : 0) : 0;
    }
    this.resizeIndices(normalized, map.width, map.height, width, height, scale, offset, out);
  }

  /** resizeBilinear followed by LUT indexing: each source row is resized across once, then rows are mixed. */
  private resizeIndices(data: Float32Array, inW: number, inH: number, width: number, height: number, scale: number, offset: number, out: Uint8Array): void {
    const { lo: x0, hi: x1, frac: fx } = bilinearTaps(inW, width);
    let rows = this.rows;
    if (!rows || rows.length !== inH * width) rows = this.rows = new Float64Array(inH * width);
    for (let r = 0; r < inH; r++) {
      const row = r * inW;
      const o = r * width;
      for (let x = 0; x < width; x++) {
        const a = data[row + x0[x]];
        rows[o + x] = a + (data[row + x1[x]] - a) * fx[x];
      }
    }
    const rowTaps = bilinearTaps(inH, height, 'float64');
    for (let y = 0; y < height; y++) {
      const fy = rowTaps.frac[y];
      const t = rowTaps.lo[y] * width;
      const b = rowTaps.hi[y] * width;
      const o = y * width;
      for (let x = 0; x < width; x++) {
        const a = rows[t + x];
        const k = (Math.fround(a + (rows[b + x] - a) * fy) * scale + offset) | 0;
        out[o + x] = k < 0 ? 0 : k > 255 ? 255 : k;
      }
    }
  }
}
