/** Channel reductions that turn an [H, W, C] attribution into an [H, W] map for display. */
import type { ReduceMode } from '../protocol';
import type { ScalarMap } from './types';

/** All channel reductions, default first. */
export const REDUCE_MODES: readonly ReduceMode[] = ['max-abs', 'max', 'l2'];

/** Max (of magnitudes when `abs`) over one pixel's channels, NaNs skipped; 0 when all are NaN. */
function maxIgnoringNaN(data: Float32Array, offset: number, channels: number, abs: boolean): number {
  let best = -Infinity;
  for (let c = 0; c < channels; c++) {
    const v = abs ? Math.abs(data[offset + c]) : data[offset + c];
    if (v > best) best = v;
  }
  return best === -Infinity ? 0 : best;
}

/**
 * Reduces the channels of an [H, W, C] float array:
 * `max-abs` max |g| over channels (Simonyan et al., non-negative), `max` the signed maximum (FlashTorch's
 * take_max), `l2` the Euclidean norm over channels (non-negative). NaNs count as 0.
 */
export function reduceChannels(data: Float32Array, height: number, width: number, channels: number, mode: ReduceMode): ScalarMap {
  const pixels = height * width;
  if (data.length !== pixels * channels) throw new Error(`reduceChannels: ${data.length} values for ${height}×${width}×${channels}`);
  const out = new Float32Array(pixels);
  if ((mode === 'max-abs' || mode === 'max') && channels === 3) {
    // The common RGB case without branches: max(x, y) = (x + y + |x − y|) / 2, exact for float32 inputs
    // in double arithmetic, and several times faster than compares or Math.max on noisy gradients.
    const abs = mode === 'max-abs';
    for (let p = 0, i = 0; p < pixels; p++, i += 3) {
      const x = abs ? Math.abs(data[i]) : data[i];
      const y = abs ? Math.abs(data[i + 1]) : data[i + 1];
      const z = abs ? Math.abs(data[i + 2]) : data[i + 2];
      const m = (x + y + Math.abs(x - y)) * 0.5;
      const r = (m + z + Math.abs(m - z)) * 0.5;
      out[p] = r === r ? r : maxIgnoringNaN(data, i, 3, abs);
    }
  } else if (mode === 'max-abs' || mode === 'max') {
    for (let p = 0; p < pixels; p++) out[p] = maxIgnoringNaN(data, p * channels, channels, mode === 'max-abs');
  } else if (mode === 'l2') {
    for (let p = 0, i = 0; p < pixels; p++) {
      let sum = 0;
      for (let c = 0; c < channels; c++, i++) {
        const v = data[i];
        if (v === v) sum += v * v;
      }
      out[p] = Math.sqrt(sum);
    }
  } else {
    throw new Error(`unknown channel reduction "${String(mode)}" (expected ${REDUCE_MODES.join(', ')})`);
  }
  return { width, height, data: out };
}

/** True when a reduced map can hold negative values (only the signed `max` of a signed attribution). */
export function isSignedReduction(mode: ReduceMode, attributionSigned: boolean): boolean {
  return mode === 'max' && attributionSigned;
}
