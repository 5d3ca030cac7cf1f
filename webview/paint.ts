/** Draws a slot's three views on canvases with the shared renderer, caching the normalised map. */
import type { DisplaySettings, ExplainResult } from '../src/shared/protocol';
import { colorize, overlay, prepareMap, type NormalizedMap } from '../src/shared/render';
import type { RenderNeed } from './state';

/** The canvases of one slot. */
export interface SlotCanvases {
  input: HTMLCanvasElement;
  map: HTMLCanvasElement;
  overlay: HTMLCanvasElement;
}

function put(canvas: HTMLCanvasElement, width: number, height: number, data: Uint8Array): void {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  // The renderer's arrays are backed by plain ArrayBuffers (never shared memory).
  const pixels = new Uint8ClampedArray(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  ctx.putImageData(new ImageData(pixels, width, height), 0, 0);
}

/** Paints one slot; re-normalises only when the result, reduction or clip changed. */
export class SlotPainter {
  private cached: { result: ExplainResult; reduce: string; clip: number; map: NormalizedMap } | undefined;
  private inputOf: ExplainResult | undefined;
  /** How many times the overlay was drawn (exposed to tests). */
  paints = 0;

  /** Draws the views for `result` with `display`. */
  paint(result: ExplainResult, display: DisplaySettings, canvases: SlotCanvases, need: RenderNeed): void {
    if (need === 'none' || need === 'ui') {
      if (this.inputOf === result && this.cached?.result === result) return;
    }
    const { width, height } = result.input;
    if (this.inputOf !== result) {
      put(canvases.input, width, height, new Uint8Array(result.input.data));
      this.inputOf = result;
    }
    const c = this.cached;
    if (!c || c.result !== result || c.reduce !== display.reduce || c.clip !== display.clipPercentile) {
      const map = prepareMap(result.attribution, display.reduce, display.clipPercentile, width, height);
      this.cached = { result, reduce: display.reduce, clip: display.clipPercentile, map };
    }
    const map = this.cached!.map;
    const colored = colorize(map, display.colormap);
    put(canvases.map, colored.width, colored.height, colored.data);
    const blended = overlay(result.input, map, display.colormap, display.alpha);
    put(canvases.overlay, blended.width, blended.height, blended.data);
    this.paints++;
  }

  /** Forgets the cached map (the slot now shows another model). */
  reset(): void {
    this.cached = undefined;
    this.inputOf = undefined;
  }
}

/** Encodes a canvas as PNG bytes. */
export function canvasPng(canvas: HTMLCanvasElement): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) reject(new Error('the overlay could not be encoded as PNG'));
      else blob.arrayBuffer().then(resolve, reject);
    }, 'image/png');
  });
}
