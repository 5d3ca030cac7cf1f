/** Writes FlashTorch's three panels (input, map, overlay) and the combined figure of an explain result. */
import { join } from 'node:path';
import type { ColormapName, ExplainResult, ReduceMode } from '../shared/protocol';
import { isSignedReduction, renderPanels, resizeBilinear, type RgbaPixels } from '../shared/render';
import { writePng } from '../engine/image/encode';

/** The smallest side, in pixels, of the pictures the CLI writes. */
export const MIN_DISPLAY_SIDE = 224;

/** Enlarges RGBA pixels by an integer factor, bilinearly per channel. */
function enlarge(image: { width: number; height: number; data: ArrayBuffer | Uint8Array }, factor: number): RgbaPixels {
  const src = image.data instanceof ArrayBuffer ? new Uint8Array(image.data) : image.data;
  const width = image.width * factor;
  const height = image.height * factor;
  const out = new Uint8Array(width * height * 4);
  for (let c = 0; c < 4; c++) {
    const plane = new Float32Array(image.width * image.height);
    for (let i = 0; i < plane.length; i++) plane[i] = src[i * 4 + c];
    const big = resizeBilinear({ width: image.width, height: image.height, data: plane }, width, height).data;
    for (let i = 0; i < big.length; i++) out[i * 4 + c] = Math.round(big[i]);
  }
  return { width, height, data: out };
}

/** Display choices from the command line; an unset colour map follows the map's sign. */
export interface CliDisplay {
  reduce: ReduceMode;
  colormap?: ColormapName;
  alpha: number;
  clipPercentile: number;
}

/** Renders and writes `<stem>.input.png`, `.map.png`, `.overlay.png` and `.figure.png`; returns their paths. */
export async function writeExplainFigures(result: ExplainResult, display: CliDisplay, outDir: string, stem: string): Promise<string[]> {
  const signed = isSignedReduction(display.reduce, result.attribution.signed);
  const colormap = display.colormap ?? (signed ? 'diverging' : 'viridis');
  // Small models (the demo's 64×64) would give stamp-sized pictures: render them at least 224 pixels high.
  const scale = Math.max(1, Math.ceil(MIN_DISPLAY_SIDE / Math.min(result.input.width, result.input.height)));
  const panels = renderPanels(result.attribution, scale > 1 ? enlarge(result.input, scale) : result.input, { ...display, colormap });
  const files: Array<[string, typeof panels.input]> = [
    ['input', panels.input], ['map', panels.map], ['overlay', panels.overlay], ['figure', panels.figure],
  ];
  const paths: string[] = [];
  for (const [name, image] of files) {
    const path = join(outDir, `${stem}.${name}.png`);
    await writePng(path, image);
    paths.push(path);
  }
  return paths;
}
