/**
 * Draws a slot's three views on canvases with the shared renderer. The staged renderer keeps the stages a
 * display change does not touch, and only the canvases whose picture changed are uploaded.
 */
import type { DisplaySettings, ExplainResult } from '../src/shared/protocol';
import { StagedRenderer } from '../src/shared/render';
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
  // The renderer's arrays are backed by plain ArrayBuffers (never shared memory); putImageData copies them.
  const pixels = new Uint8ClampedArray(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  ctx.putImageData(new ImageData(pixels, width, height), 0, 0);
}

/** Paints one slot, redoing only what the result or display change requires. */
export class SlotPainter {
  private readonly renderer = new StagedRenderer();
  private shown: ExplainResult | undefined;
  /** How many times the overlay was drawn (exposed to tests). */
  paints = 0;
  /** Milliseconds the last paint took (rendering and canvas uploads), for the command-to-overlay log. */
  lastMs = 0;

  /** Draws the views for `result` with `display`. */
  paint(result: ExplainResult, display: DisplaySettings, canvases: SlotCanvases, need: RenderNeed): void {
    if ((need === 'none' || need === 'ui') && this.shown === result) return;
    const start = performance.now();
    if (this.shown !== result) {
      const { width, height } = result.input;
      put(canvases.input, width, height, new Uint8Array(result.input.data));
      this.renderer.setSource(result.attribution, result.input);
      this.shown = result;
    }
    const frame = this.renderer.render(display);
    if (frame.mapChanged) put(canvases.map, frame.map.width, frame.map.height, frame.map.data);
    if (frame.overlayChanged) put(canvases.overlay, frame.overlay.width, frame.overlay.height, frame.overlay.data);
    this.paints++;
    this.lastMs = performance.now() - start;
  }

  /** Forgets what was drawn (the slot now shows another model). */
  reset(): void {
    this.shown = undefined;
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
