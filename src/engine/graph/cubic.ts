/** Interpolation matrices of ONNX's cubic resize, so that the executor can resize with matrix products. */

/** How an output coordinate maps to an input coordinate (the ONNX coordinate_transformation_mode values). */
export type CubicCoordinateMode = 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric';

/** Parameters of one axis of a cubic resize. */
export interface CubicAxis {
  inSize: number;
  outSize: number;
  mode: CubicCoordinateMode;
  /** The cubic_coeff_a of ONNX (-0.75 in PyTorch, -0.5 in TensorFlow). */
  a: number;
  /** Drop taps outside the input and renormalise, rather than repeating the edge pixel. */
  excludeOutside: boolean;
  /** in/out coordinate ratio when it is not inSize/outSize (a fractional scale factor). */
  ratio?: number;
}

/** The Keys cubic convolution kernel at distance d with coefficient a. */
function keys(d: number, a: number): number {
  const s = Math.abs(d);
  if (s <= 1) return ((a + 2) * s - (a + 3)) * s * s + 1;
  if (s < 2) return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
  return 0;
}

function sourceCoordinate(o: number, axis: CubicAxis): number {
  const { inSize, outSize, mode } = axis;
  const r = axis.ratio ?? inSize / outSize;
  switch (mode) {
    case 'align_corners': return outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0;
    case 'asymmetric': return o * r;
    case 'pytorch_half_pixel': return outSize > 1 ? (o + 0.5) * r - 0.5 : 0;
    default: return (o + 0.5) * r - 0.5;
  }
}

/**
 * The [outSize, inSize] matrix of one axis: row o holds the four cubic taps around its source coordinate,
 * with taps past an edge added to the edge pixel (or dropped and the row renormalised with excludeOutside).
 */
export function cubicWeights(axis: CubicAxis): Float32Array {
  const { inSize, outSize, a } = axis;
  const w = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const src = sourceCoordinate(o, axis);
    const base = Math.floor(src);
    const row = new Float64Array(inSize);
    let total = 0;
    for (let k = -1; k <= 2; k++) {
      const i = base + k;
      const weight = keys(src - i, a);
      if (axis.excludeOutside && (i < 0 || i >= inSize)) continue;
      row[Math.min(inSize - 1, Math.max(0, i))] += weight;
      total += weight;
    }
    const norm = axis.excludeOutside && total !== 0 ? total : 1;
    for (let i = 0; i < inSize; i++) w[o * inSize + i] = row[i] / norm;
  }
  return w;
}
