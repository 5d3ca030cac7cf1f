/** Bilinear resizing of small maps (e.g. 7×7 CAM maps) to image size. */
import type { ScalarMap } from './types';

/**
 * Taps of a half-pixel-centre bilinear resize along one axis: for each output index the lower and upper
 * input neighbour (clamped to the edge) and the upper one's weight, kept in float32 or float64.
 */
export function bilinearTaps(inSize: number, outSize: number, precision: 'float32' | 'float64' = 'float32'):
  { lo: Int32Array; hi: Int32Array; frac: Float32Array | Float64Array } {
  const scale = inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = precision === 'float32' ? new Float32Array(outSize) : new Float64Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const below = Math.min(inSize - 1, Math.floor(src));
    lo[i] = below;
    hi[i] = Math.min(inSize - 1, below + 1);
    frac[i] = src - below;
  }
  return { lo, hi, frac };
}

/**
 * Resizes a map bilinearly with half-pixel centres (PyTorch's interpolate with align_corners=False, which the
 * CAM papers' code uses); samples beyond the edge take the edge value. Same size returns the input.
 */
export function resizeBilinear(map: ScalarMap, width: number, height: number): ScalarMap {
  if (map.width === width && map.height === height) return map;
  const { width: inW, height: inH, data } = map;
  const out = new Float32Array(width * height);
  const { lo: x0, hi: x1, frac: fx } = bilinearTaps(inW, width);
  const rowTaps = bilinearTaps(inH, height, 'float64');
  for (let y = 0; y < height; y++) {
    const fy = rowTaps.frac[y];
    const rowTop = rowTaps.lo[y] * inW;
    const rowBottom = rowTaps.hi[y] * inW;
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const a = data[rowTop + x0[x]] + (data[rowTop + x1[x]] - data[rowTop + x0[x]]) * fx[x];
      const b = data[rowBottom + x0[x]] + (data[rowBottom + x1[x]] - data[rowBottom + x0[x]]) * fx[x];
      out[o + x] = a + (b - a) * fy;
    }
  }
  return { width, height, data: out };
}
