/** Percentile clipping and normalisation of saliency maps for display. */
import { BadInputError } from '../errors';
import type { ScalarMap } from './types';

/** The default clipping percentile: the top 1% of values saturate, so one hot pixel cannot wash out the map. */
export const DEFAULT_CLIP_PERCENTILE = 99;

/** Validates a clipping percentile from an option or a setting (0 < p ≤ 100). */
export function parseClipPercentile(value: unknown, subject: string): number {
  const p = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0 || p > 100) {
    throw new BadInputError(subject, `clip percentile must be a number in (0, 100] (got ${JSON.stringify(value)})`);
  }
  return p;
}

/** Rearranges a[lo..hi] so that a[k] holds the value it would have if sorted (Hoare quickselect). */
function selectInPlace(a: Float32Array, k: number): void {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    // Median of three pivot keeps sorted or constant runs from going quadratic.
    const mid = (lo + hi) >>> 1;
    const x = a[lo], y = a[mid], z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i]; a[i] = a[j]; a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * The p-th percentile (0–100) of the values, or of their magnitudes when `ofMagnitude`, with linear
 * interpolation between neighbouring ranks (NumPy's default). NaNs count as 0. Runs in linear time.
 */
export function percentile(values: Float32Array, p: number, ofMagnitude = false): number {
  const n = values.length;
  if (n === 0) return 0;
  const scratch = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    scratch[i] = v !== v ? 0 : ofMagnitude ? Math.abs(v) : v;
  }
  const position = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const k = Math.floor(position);
  selectInPlace(scratch, k);
  const low = scratch[k];
  const fraction = position - k;
  if (fraction === 0 || k + 1 >= n) return low;
  // After selection everything right of k is ≥ a[k]; the next rank is their minimum.
  let next = Infinity;
  for (let i = k + 1; i < n; i++) if (scratch[i] < next) next = scratch[i];
  return low + (next - low) * fraction;
}

/** A map scaled for display, with the value that was mapped to full scale. */
export interface NormalizedMap extends ScalarMap {
  /** Values at or beyond ±clipValue saturate. 0 when the map is all zero. */
  clipValue: number;
  signed: boolean;
}

/**
 * Clips a map at the given percentile of its magnitudes and scales it: non-negative maps to [0, 1],
 * signed maps symmetrically around 0 to [-1, 1] (so 0 stays the centre of a diverging colour map).
 */
export function normalizeMap(map: ScalarMap, signed: boolean, clipPercentile = DEFAULT_CLIP_PERCENTILE): NormalizedMap {
  const clipValue = percentile(map.data, clipPercentile, true);
  const out = new Float32Array(map.data.length);
  if (clipValue > 0 && Number.isFinite(clipValue)) {
    const low = signed ? -1 : 0;
    const inverse = 1 / clipValue;
    for (let i = 0; i < out.length; i++) {
      const v = map.data[i] * inverse;
      out[i] = v > 1 ? 1 : v < low ? low : v === v ? v : 0;
    }
  }
  return { width: map.width, height: map.height, data: out, clipValue: Number.isFinite(clipValue) ? clipValue : 0, signed };
}
