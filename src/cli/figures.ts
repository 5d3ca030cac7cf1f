/** Writes FlashTorch's three panels (input, map, overlay) and the combined figure of an explain result. */
import { join } from 'node:path';
import type { ColormapName, ExplainResult, ReduceMode } from '../shared/protocol';
import { isSignedReduction, renderPanels } from '../shared/render';
import { writePng } from '../engine/image/encode';

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
  const panels = renderPanels(result.attribution, result.input, { ...display, colormap });
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
