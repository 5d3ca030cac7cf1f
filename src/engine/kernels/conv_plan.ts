/**
 * Plans the input gradient of a strided, dilated, padded convolution as a few stride-1 FORWARD
 * convolutions of dy ("phases"), one per output-position residue modulo the stride, so that the
 * backward pass runs on the backend's fast forward conv kernels and does no multiply-by-zero work.
 *
 * Along one spatial axis the forward conv is y[o] = sum_k x[o*s - padBefore + k*d] w[k]; the input
 * gradient at i = s*q + r only gathers taps k with (r + padBefore - k*d) divisible by s, which form an
 * arithmetic progression; flipping them turns the gather into a correlation with dilation d/gcd(d,s).
 */

/** One phase r of one axis: which kernel taps reach input positions i ≡ r (mod stride), and the conv geometry. */
export interface AxisPhase {
  /** Kernel tap indices in the order the flipped sub-kernel uses them (descending original index). */
  taps: number[];
  /** Padding of dy before/after for a stride-1 conv producing exactly `phaseLen` outputs (may be negative = crop). */
  padBefore: number;
  padAfter: number;
  /** Dilation of the phase's sub-kernel. */
  dilation: number;
}

/** The plan of one spatial axis. */
export interface AxisPlan {
  stride: number;
  /** Length of the forward input (the gradient's length). */
  inSize: number;
  /** Length of dy. */
  outSize: number;
  /** Positions per phase: ceil(inSize / stride); trailing ones beyond inSize are dropped when interleaving. */
  phaseLen: number;
  /** phases[r], or null where no tap reaches that residue (its gradient is zero). */
  phases: Array<AxisPhase | null>;
}

const mod = (a: number, m: number): number => ((a % m) + m) % m;

/** Plans one axis of a conv's input gradient. */
export function planAxis(inSize: number, outSize: number, k: number, stride: number, dilation: number, padBefore: number): AxisPlan {
  const phaseLen = Math.ceil(inSize / stride);
  const phases: Array<AxisPhase | null> = [];
  for (let r = 0; r < stride; r++) {
    const ascending: number[] = [];
    for (let t = 0; t < k; t++) if (mod(r + padBefore - t * dilation, stride) === 0) ascending.push(t);
    if (ascending.length === 0 || r >= inSize) {
      phases.push(null);
      continue;
    }
    const j = ascending.length;
    const c0 = (r + padBefore - ascending[0] * dilation) / stride;
    const dd = j > 1 ? ((ascending[1] - ascending[0]) * dilation) / stride : 1;
    const before = (j - 1) * dd - c0;
    const after = phaseLen + (j - 1) * dd - outSize - before;
    phases.push({ taps: ascending.reverse(), padBefore: before, padAfter: after, dilation: dd });
  }
  return { stride, inSize, outSize, phaseLen, phases };
}

/** Resolved geometry of a 2-D conv or pool: padding [top, bottom, left, right] and output size. */
export interface Geometry2D {
  outH: number;
  outW: number;
  pad: [number, number, number, number];
}

/** Padding as tfjs convs take it. */
export type ConvPad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** Resolves a conv's padding exactly as tfjs does ('same' puts the odd pixel at the bottom/right). */
export function convGeometry(
  inH: number, inW: number, kh: number, kw: number, strides: [number, number], dilations: [number, number], pad: ConvPad,
): Geometry2D {
  const ekh = (kh - 1) * dilations[0] + 1;
  const ekw = (kw - 1) * dilations[1] + 1;
  if (pad === 'valid') {
    return { outH: Math.ceil((inH - ekh + 1) / strides[0]), outW: Math.ceil((inW - ekw + 1) / strides[1]), pad: [0, 0, 0, 0] };
  }
  if (pad === 'same') {
    const outH = Math.ceil(inH / strides[0]);
    const outW = Math.ceil(inW / strides[1]);
    const ph = Math.max(0, (outH - 1) * strides[0] + ekh - inH);
    const pw = Math.max(0, (outW - 1) * strides[1] + ekw - inW);
    const top = Math.floor(ph / 2);
    const left = Math.floor(pw / 2);
    return { outH, outW, pad: [top, ph - top, left, pw - left] };
  }
  const [t, b] = pad[1];
  const [l, r] = pad[2];
  return {
    outH: Math.floor((inH + t + b - ekh) / strides[0]) + 1,
    outW: Math.floor((inW + l + r - ekw) / strides[1]) + 1,
    pad: [t, b, l, r],
  };
}
