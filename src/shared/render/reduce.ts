/** Channel reductions that turn an [H, W, C] attribution into an [H, W] map for display. */
import type { ReduceMode } from '../protocol';
import type { ScalarMap } from './types';

/** All channel reductions, default first. */
export const REDUCE_MODES: readonly ReduceMode[] = ['max-abs', 'max', 'l2'];

/**
 * Reduces the channels of an [H, W, C] float array:
 * `max-abs` max |g| over channels (Simonyan et al., non-negative), `max` the signed maximum (FlashTorch's
 * take_max), `l2` the Euclidean norm over channels (non-negative). NaNs count as 0.
 */
export function reduceChannels(data: Float32Array, height: number, width: number, channels: number, mode: ReduceMode): ScalarMap {
  const pixels = height * width;
  if (data.length !== pixels * channels) throw new Error(`reduceChannels: ${data.length} values for ${height}×${width}×${channels}`);
  const out = new Float32Array(pixels);
  if (mode === 'max-abs') {
    for (let p = 0, i = 0; p < pixels; p++) {
      let best = 0;
      for (let c = 0; c < channels; c++, i++) {
        const v = Math.abs(data[i]);
        if (v > best) best = v;
      }
      out[p] = best;
    }
  } else if (mode === 'max') {
    for (let p = 0, i = 0; p < pixels; p++) {
      let best = -Infinity;
      for (let c = 0; c < channels; c++, i++) {
        const v = data[i];
        if (v > best) best = v;
      }
      out[p] = best === -Infinity || Number.isNaN(best) ? 0 : best;
    }
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
