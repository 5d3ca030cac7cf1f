// The panel's staged renderer against the one-shot renderer (prepareMap → colorize → overlay): the same
// pixels after any sequence of display changes, and only the pictures a change affects are redone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colorize, overlay, prepareMap, type AttributionLike, type RgbaLike } from '../../src/shared/render/compose';
import { PercentileTable, percentile } from '../../src/shared/render/normalize';
import { StagedRenderer } from '../../src/shared/render/staged';
import { COLORMAPS, type DisplaySettings, type ReduceMode } from '../../src/shared/protocol';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Heavy-tailed signed values with some exact zeros, like a gradient. */
function values(n: number, seed: number): Float32Array {
  const next = lcg(seed);
  return new Float32Array(n).map(() => (next() < 0.1 ? 0 : (next() - 0.5) * (next() < 0.02 ? 50 : 1) * 0.01));
}

function attribution(height: number, width: number, channels: number, seed: number, signed = true): AttributionLike {
  return { height, width, channels, data: values(height * width * channels, seed), signed };
}

function image(width: number, height: number, seed: number): RgbaLike {
  const next = lcg(seed);
  // Alpha varies too: the overlay keeps the input's alpha.
  return { width, height, data: new Uint8Array(width * height * 4).map(() => (next() * 256) | 0) };
}

function oneShot(a: AttributionLike, input: RgbaLike, d: DisplaySettings): { map: Uint8Array; overlay: Uint8Array; clipValue: number } {
  const normalized = prepareMap(a, d.reduce, d.clipPercentile, input.width, input.height);
  return { map: colorize(normalized, d.colormap).data, overlay: overlay(input, normalized, d.colormap, d.alpha).data, clipValue: normalized.clipValue };
}

/** A walk through the controls: each step changes one of them, as a user does. */
function walk(steps: number, seed: number): DisplaySettings[] {
  const next = lcg(seed);
  const reduces: ReduceMode[] = ['max-abs', 'max', 'l2'];
  let d: DisplaySettings = { colormap: 'viridis', alpha: 0.5, clipPercentile: 99, reduce: 'max-abs' };
  const out = [d];
  for (let i = 0; i < steps; i++) {
    const which = (next() * 4) | 0;
    if (which === 0) d = { ...d, colormap: COLORMAPS[(next() * COLORMAPS.length) | 0] };
    else if (which === 1) d = { ...d, alpha: [0, 0.05, 0.35, 0.5, 0.8, 1][(next() * 6) | 0] };
    else if (which === 2) d = { ...d, clipPercentile: [50, 90, 97.3, 99, 99.9, 100][(next() * 6) | 0] };
    else d = { ...d, reduce: reduces[(next() * 3) | 0] };
    out.push(d);
  }
  return out;
}

const cases: Array<[string, AttributionLike, RgbaLike]> = [
  ['gradient at the image size', attribution(24, 20, 3, 1), image(20, 24, 2)],
  ['gradient resized up (224 → 1024-like)', attribution(14, 14, 3, 3), image(64, 64, 4)],
  ['unsigned map resized to a non-square image', attribution(9, 13, 3, 5, false), image(40, 17, 6)],
  ['7×7 CAM', attribution(7, 7, 1, 7, false), image(50, 50, 8)],
  ['map larger than the image', attribution(30, 30, 3, 9), image(11, 11, 10)],
  // Enough pixels that a value rounded differently (double vs float32) would land on another LUT entry.
  ['gradient resized up, many pixels', attribution(40, 40, 3, 14), image(300, 300, 15)],
];

for (const [name, a, input] of cases) {
  test(`staged renderer: the one-shot renderer's pixels after every change (${name})`, () => {
    const r = new StagedRenderer();
    r.setSource(a, input);
    for (const d of walk(a.width > 30 ? 16 : 60, a.height * 31 + a.width)) {
      const frame = r.render(d);
      const want = oneShot(a, input, d);
      assert.deepEqual(frame.map.data, want.map, `map, ${JSON.stringify(d)}`);
      assert.deepEqual(frame.overlay.data, want.overlay, `overlay, ${JSON.stringify(d)}`);
      assert.equal(frame.clipValue, want.clipValue);
    }
  });
}

/**
 * LUT indices as the one-shot renderer would give them if it kept doubles instead of storing float32 maps:
 * an input on which these differ from the real ones shows that the staged renderer rounds where it does.
 */
function indicesInDoubles(a: AttributionLike, width: number, height: number, clipValue: number): Uint8Array {
  const src = a.data as Float32Array;
  const v = (x: number, y: number) => Math.min(1, src[y * a.width + x] / clipValue);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.max(0, (y + 0.5) * (a.height / height) - 0.5);
    const top = Math.min(a.height - 1, Math.floor(sy));
    for (let x = 0; x < width; x++) {
      const sx = Math.max(0, (x + 0.5) * (a.width / width) - 0.5);
      const left = Math.min(a.width - 1, Math.floor(sx));
      const fx = Math.fround(sx - left);
      const row = (r: number) => v(left, r) + (v(Math.min(a.width - 1, left + 1), r) - v(left, r)) * fx;
      const t = row(top);
      const value = t + (row(Math.min(a.height - 1, top + 1)) - t) * (sy - top);
      out[y * width + x] = Math.min(255, Math.max(0, (value * 255 + 0.5) | 0));
    }
  }
  return out;
}

test('staged renderer: rounds to float32 where the one-shot renderer stores float32 maps', () => {
  const d: DisplaySettings = { colormap: 'gray', alpha: 1, clipPercentile: 100, reduce: 'max-abs' };
  for (const [w, h, side] of [[128, 128, 128], [8, 8, 128]]) {
    let found = false;
    for (let seed = 0; seed < 300 && !found; seed++) {
      // Uniform values use the whole colour map, so every LUT boundary gets its chances.
      const next = lcg(1000 + seed);
      const a: AttributionLike = { height: h, width: w, channels: 1, data: new Float32Array(w * h).map(() => next() * 0.37), signed: false };
      const input = image(side, side, seed);
      const want = oneShot(a, input, d);
      // The gray LUT is the identity: the red channel of the map is the LUT index.
      const real = want.map.filter((_, i) => i % 4 === 0);
      const doubles = indicesInDoubles(a, side, side, want.clipValue);
      if (real.every((k, i) => k === doubles[i])) continue;
      found = true;
      const r = new StagedRenderer();
      r.setSource(a, input);
      assert.deepEqual(r.render(d).map.data, want.map, `${w}×${w} map on a ${side}×${side} image, seed ${seed}`);
    }
    assert.ok(found, `no ${w}×${h} map found where float32 rounding changes a LUT index`);
  }
});

test('staged renderer: all-zero, NaN and infinite maps render as the one-shot renderer does', () => {
  const input = image(6, 5, 11);
  const special = [
    new Float32Array(4 * 3 * 3),
    new Float32Array(4 * 3 * 3).fill(NaN),
    values(4 * 3 * 3, 12).map((v, i) => (i === 5 ? Infinity : i === 7 ? -Infinity : i === 9 ? NaN : v)),
  ];
  for (const data of special) {
    const a: AttributionLike = { height: 3, width: 4, channels: 3, data, signed: true };
    const r = new StagedRenderer();
    r.setSource(a, input);
    for (const d of walk(12, 13)) {
      const frame = r.render(d);
      const want = oneShot(a, input, d);
      assert.deepEqual([frame.map.data, frame.overlay.data, frame.clipValue], [want.map, want.overlay, want.clipValue]);
    }
  }
});

test('staged renderer: an alpha change redoes only the overlay; no change redoes nothing; a new source redoes all', () => {
  const a = attribution(8, 8, 3, 21);
  const input = image(16, 16, 22);
  const r = new StagedRenderer();
  r.setSource(a, input);
  const d: DisplaySettings = { colormap: 'viridis', alpha: 0.5, clipPercentile: 99, reduce: 'max-abs' };
  const first = r.render(d);
  assert.deepEqual([first.mapChanged, first.overlayChanged], [true, true]);
  const map = first.map.data.slice();
  const same = r.render({ ...d });
  assert.deepEqual([same.mapChanged, same.overlayChanged], [false, false]);
  const alpha = r.render({ ...d, alpha: 0.7 });
  assert.deepEqual([alpha.mapChanged, alpha.overlayChanged], [false, true]);
  assert.deepEqual(alpha.map.data, map, 'the map picture is untouched');
  for (const change of [{ colormap: 'jet' as const }, { clipPercentile: 95 }, { reduce: 'l2' as const }]) {
    const f = r.render({ ...d, alpha: 0.7, ...change });
    assert.deepEqual([f.mapChanged, f.overlayChanged], [true, true], JSON.stringify(change));
  }
  r.setSource(attribution(8, 8, 3, 23), input);
  const fresh = r.render({ ...d, alpha: 0.7, reduce: 'l2' });
  assert.deepEqual([fresh.mapChanged, fresh.overlayChanged], [true, true]);
  assert.throws(() => new StagedRenderer().render(d), /before setSource/);
  assert.throws(() => r.setSource({ ...a, data: new Float32Array(5) }, input), /has 5 values/);
});

test('staged renderer: input bytes at an odd offset and an ArrayBuffer attribution give the same pixels', () => {
  const a = attribution(6, 6, 3, 31);
  const input = image(12, 12, 32);
  const bytes = input.data as Uint8Array;
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const r = new StagedRenderer();
  r.setSource({ ...a, data: (a.data as Float32Array).slice().buffer }, { ...input, data: shifted.subarray(1) });
  const d: DisplaySettings = { colormap: 'inferno', alpha: 0.35, clipPercentile: 97, reduce: 'max' };
  const frame = r.render(d);
  assert.deepEqual(frame.overlay.data, oneShot(a, input, d).overlay);
});

test('percentile table: the same percentiles as percentile(), asked many times in any order', () => {
  const next = lcg(41);
  for (let t = 0; t < 150; t++) {
    const n = 1 + ((next() * 4000) | 0);
    const v = values(n, t + 100);
    if (t % 5 === 0) for (let i = 0; i < n; i += 7) v[i] = 0.25; // ties
    if (t % 11 === 0) v[(next() * n) | 0] = NaN;
    if (t % 13 === 0) v[(next() * n) | 0] = t % 2 ? Infinity : -Infinity;
    if (t % 17 === 0) v[(next() * n) | 0] = 1e30; // one outlier squeezes everything into the first bins
    const magnitude = t % 2 === 0;
    const table = new PercentileTable(v, magnitude);
    for (const p of [99, 0, 100, 50, 99.9, 37.25, 99, 1, 97.5]) {
      const want = percentile(v, p, magnitude);
      const got = table.at(p);
      assert.ok(Object.is(got, want) || got === want, `n ${n}, p ${p}: ${got} vs ${want}`);
    }
  }
  assert.equal(new PercentileTable(new Float32Array(0)).at(50), 0);
  assert.equal(new PercentileTable(new Float32Array([3, 3, 3])).at(10), 3);
  assert.equal(new PercentileTable(new Float32Array([-2, 1]), true).at(100), 2);
});
