/** Bilinear resizing of small maps (e.g. 7×7 CAM maps) to image size. */
import type { ScalarMap } from './types';

/**
 * Resizes a map bilinearly with half-pixel centres (PyTorch's interpolate with align_corners=False, which the
 * CAM papers' code uses); samples beyond the edge take the edge value. Same size returns the input.
 */
/** Column taps of a half-pixel-centre bilinear resize: left and right neighbour and the right one's weight (float32). */
export function bilinearColumnTaps(inW: number, width: number): { x0: Int32Array; x1: Int32Array; fx: Float32Array } {
  const sx = inW / width;
  const x0 = new Int32Array(width);
  const x1 = new Int32Array(width);
  const fx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const src = Math.max(0, (x + 0.5) * sx - 0.5);
    const left = Math.min(inW - 1, Math.floor(src));
    x0[x] = left;
    x1[x] = Math.min(inW - 1, left + 1);
    fx[x] = src - left;
  }
  return { x0, x1, fx };
}

export function resizeBilinear(map: ScalarMap, width: number, height: number): ScalarMap {
  if (map.width === width && map.height === height) return map;
  const { width: inW, height: inH, data } = map;
  const out = new Float32Array(width * height);
  const sy = inH / height;
  const { x0, x1, fx } = bilinearColumnTaps(inW, width);
  for (let y = 0; y < height; y++) {
    const src = Math.max(0, (y + 0.5) * sy - 0.5);
    const top = Math.min(inH - 1, Math.floor(src));
    const bottom = Math.min(inH - 1, top + 1);
    const fy = src - top;
    const rowTop = top * inW;
    const rowBottom = bottom * inW;
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const a = data[rowTop + x0[x]] + (data[rowTop + x1[x]] - data[rowTop + x0[x]]) * fx[x];
      const b = data[rowBottom + x0[x]] + (data[rowBottom + x1[x]] - data[rowBottom + x0[x]]) * fx[x];
      out[o + x] = a + (b - a) * fy;
    }
  }
  return { width, height, data: out };
}
