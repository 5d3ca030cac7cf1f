/** Pure helpers of "Visualize Filters…": channel counts, the filter choices (first N, random N, a list) and their parsing. */
import type { FeatureVisOptions, LayerInfo } from '../shared/protocol';
import { uniformRandom } from '../shared/random';

/** The number of channels of a layer with a spatial output, or undefined when its shape is unknown. */
export function channelCount(layer: Pick<LayerInfo, 'outputShape'>, layout?: 'NHWC' | 'NCHW'): number | undefined {
  const s = layer.outputShape;
  if (!s || s.length < 3) return undefined;
  // Without the model's layout: [N, C, H, W] when the two last sides are equal and the second differs.
  const nchw = layout ? layout === 'NCHW' : s.length === 4 && s[2] === s[3] && s[1] !== s[2];
  const c = nchw ? s[1] : s[s.length - 1];
  return c > 0 ? c : undefined;
}

/** A layer's output shape as text, e.g. "56×56×32". */
export function shapeText(shape: number[] | null): string {
  if (!shape) return 'shape unknown';
  return shape.slice(1).map((d) => (d < 0 ? '?' : String(d))).join('×');
}

/** The first n filters (n capped at the channel count when known). */
export function firstFilters(n: number, channels: number | undefined): number[] {
  const count = channels === undefined ? n : Math.min(n, channels);
  return Array.from({ length: Math.max(0, count) }, (_, i) => i);
}

/** n distinct filters out of `channels`, chosen with a seeded generator, in ascending order. */
export function randomFilters(n: number, channels: number, seed: number): number[] {
  const all = Array.from({ length: channels }, (_, i) => i);
  const rand = uniformRandom(seed);
  const k = Math.min(Math.max(0, n), channels);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (channels - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, k).sort((a, b) => a - b);
}

/** Parses a count typed by the user: a whole number from 1 to `max`; a message when invalid. */
export function parseCount(text: string, max: number | undefined): { count: number } | { error: string } {
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) < 1) return { error: 'Enter a whole number of filters, at least 1.' };
  const n = Number(t);
  if (max !== undefined && n > max) return { error: `The layer has ${max} filters: enter at most ${max}.` };
  return { count: n };
}

/** Parses a filter list such as "0,1,2", "4-7" or "0, 3-5, 9" against the channel count; a message when invalid. */
export function parseFilterList(text: string, channels: number | undefined): { filters: number[] } | { error: string } {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) return { error: 'Enter filter indices such as 0,1,2 or 4-7.' };
  const out: number[] = [];
  const seen = new Set<number>();
  const add = (i: number): void => { if (!seen.has(i)) { seen.add(i); out.push(i); } };
  for (const part of parts) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) return { error: `“${part}” is not an index or a range (such as 4-7).` };
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return { error: `The range ${part} runs backwards.` };
    if (channels !== undefined && hi >= channels) return { error: `The layer has ${channels} filters (0–${channels - 1}): ${part} is out of range.` };
    if (hi - lo > 4096) return { error: `The range ${part} is too large.` };
    for (let i = lo; i <= hi; i++) add(i);
  }
  if (out.length > 1024) return { error: 'Pick at most 1024 filters.' };
  return { filters: out };
}

/** Reads the feature visualisation settings (steps and size; undefined: the engine's default). */
export function featureOptions(get: (key: string) => unknown): FeatureVisOptions {
  const int = (v: unknown, min: number, max: number): number | undefined =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined;
  const steps = int(get('filterSteps'), 1, 10000);
  const size = int(get('filterSize'), 0, 2048);
  return { ...(steps !== undefined ? { steps } : {}), ...(size ? { size } : {}) };
}
