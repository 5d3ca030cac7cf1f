/** Percentile clipping and normalisation of saliency maps for display. */
import { BadInputError } from '../errors';
import type { ScalarMap } from './types';

/** A copy with NaN as 0 (and magnitudes if asked), with its extremes. */
function cleanedValues(values: Float32Array, ofMagnitude: boolean): { clean: Float32Array; lo: number; hi: number } {
  const clean = new Float32Array(values.length);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const raw = values[i];
    const v = raw !== raw ? 0 : ofMagnitude ? Math.abs(raw) : raw;
    clean[i] = v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { clean, lo, hi };
}

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

/** Histogram resolution of percentile(): fine enough that the selected bin holds few values. */
const PERCENTILE_BINS = 1 << 16;

/**
 * The p-th percentile (0–100) of the values, or of their magnitudes when `ofMagnitude`, with linear
 * interpolation between neighbouring ranks (NumPy's default). NaNs count as 0. Exact, in linear time: a
 * histogram finds the bin holding the wanted rank, then only that bin's values are selected among.
 */
export function percentile(values: Float32Array, p: number, ofMagnitude = false): number {
  const n = values.length;
  if (n === 0) return 0;
  const position = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const k = Math.floor(position);
  const fraction = position - k;

  // One cleaning pass into a copy keeps the later loops free of per-value branches on the options.
  const { clean, lo, hi } = cleanedValues(values, ofMagnitude);
  if (lo === hi) return lo;
  // Infinite ends or a range too wide for doubles: every value lands in bin 0 and is selected among.
  const scale = Number.isFinite(hi - lo) ? (PERCENTILE_BINS - 1) / (hi - lo) : 0;

  const counts = new Uint32Array(PERCENTILE_BINS);
  for (let i = 0; i < n; i++) counts[((clean[i] - lo) * scale) | 0]++;
  let bin = 0;
  let below = 0;
  while (below + counts[bin] <= k) below += counts[bin++];

  const members = new Float32Array(counts[bin]);
  let next = Infinity; // the smallest value of any later bin
  for (let i = 0, m = 0; i < n; i++) {
    const v = clean[i];
    const b = ((v - lo) * scale) | 0;
    if (b === bin) members[m++] = v;
    else if (b > bin && v < next) next = v;
  }
  const rank = k - below;
  selectInPlace(members, rank);
  const low = members[rank];
  if (fraction === 0 || k + 1 >= n) return low;
  // After selection everything right of the rank is ≥ it; the next rank is their minimum, or the next bin's.
  for (let i = rank + 1; i < members.length; i++) if (members[i] < next) next = members[i];
  // Equal neighbours (infinities included) need no interpolation, which would give ∞ − ∞ = NaN.
  return next === low ? low : low + (next - low) * fraction;
}

/**
 * Percentiles of one set of values asked for many times (a clip slider): the same answers as percentile(),
 * with the histogram built once. Values are grouped by bin; a bin is sorted the first time a percentile
 * falls in it, after which its percentiles cost a binary search.
 */
export class PercentileTable {
  private readonly n: number;
  private readonly lo: number = 0;
  private readonly hi: number = 0;
  /** Values in bin order (each bin's slice unordered until sorted). */
  private readonly grouped: Float32Array = new Float32Array(0);
  /** starts[b] is the index in `grouped` of bin b's first value; starts[BINS] = n. */
  private readonly starts: Uint32Array = new Uint32Array(0);
  private readonly sorted: Uint8Array = new Uint8Array(0);

  constructor(values: Float32Array, ofMagnitude = false) {
    const n = (this.n = values.length);
    if (n === 0) return;
    const { clean, lo, hi } = cleanedValues(values, ofMagnitude);
    this.lo = lo;
    this.hi = hi;
    if (lo === hi) return;
    // The same bins as percentile(), so the same values share a bin.
    const scale = Number.isFinite(hi - lo) ? (PERCENTILE_BINS - 1) / (hi - lo) : 0;
    const starts = new Uint32Array(PERCENTILE_BINS + 1);
    for (let i = 0; i < n; i++) starts[(((clean[i] - lo) * scale) | 0) + 1]++;
    for (let b = 0; b < PERCENTILE_BINS; b++) starts[b + 1] += starts[b];
    const fill = starts.slice(0, PERCENTILE_BINS);
    const grouped = new Float32Array(n);
    for (let i = 0; i < n; i++) grouped[fill[((clean[i] - lo) * scale) | 0]++] = clean[i];
    this.grouped = grouped;
    this.starts = starts;
    this.sorted = new Uint8Array(PERCENTILE_BINS);
  }

  /** The p-th percentile (0–100), as percentile(values, p, ofMagnitude). */
  at(p: number): number {
    const n = this.n;
    if (n === 0) return 0;
    if (this.lo === this.hi) return this.lo;
    const position = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
    const k = Math.floor(position);
    const fraction = position - k;
    // Bins hold consecutive ranks, so once the bin of rank k is sorted, grouped[k] is the value of rank k.
    this.sortBinOf(k);
    const low = this.grouped[k];
    if (fraction === 0 || k + 1 >= n) return low;
    this.sortBinOf(k + 1);
    const next = this.grouped[k + 1];
    // Equal neighbours (infinities included) need no interpolation, which would give ∞ − ∞ = NaN.
    return next === low ? low : low + (next - low) * fraction;
  }

  /** Sorts the bin holding rank k, unless it is sorted already. */
  private sortBinOf(k: number): void {
    const starts = this.starts;
    // The bin b with starts[b] ≤ k < starts[b + 1].
    let lo = 0;
    let hi = PERCENTILE_BINS - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= k) lo = mid;
      else hi = mid - 1;
    }
    if (!this.sorted[lo]) {
      this.grouped.subarray(starts[lo], starts[lo + 1]).sort();
      this.sorted[lo] = 1;
    }
  }
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
