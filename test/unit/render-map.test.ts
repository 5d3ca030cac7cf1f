import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSignedReduction, reduceChannels } from '../../src/shared/render/reduce';
import { normalizeMap, parseClipPercentile, percentile } from '../../src/shared/render/normalize';
import { resizeBilinear } from '../../src/shared/render/upsample';
import { isBadInput } from '../../src/shared/errors';

const near = (a: ArrayLike<number>, b: number[], what: string, eps = 1e-6) =>
  b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) <= eps, `${what}[${i}]: ${a[i]} vs ${v}`));

test('channel reductions: max |g|, signed max, L2', () => {
  // Two pixels of three channels.
  const g = new Float32Array([1, -5, 2, -1, -2, -3]);
  near(reduceChannels(g, 1, 2, 3, 'max-abs').data, [5, 3], 'max-abs');
  near(reduceChannels(g, 1, 2, 3, 'max').data, [2, -1], 'max');
  near(reduceChannels(g, 1, 2, 3, 'l2').data, [Math.sqrt(30), Math.sqrt(14)], 'l2', 1e-6);
  const single = reduceChannels(new Float32Array([-2, 3]), 2, 1, 1, 'max-abs');
  assert.deepEqual([single.width, single.height, ...single.data], [1, 2, 2, 3]);
  near(reduceChannels(new Float32Array([NaN, -1, 1]), 1, 1, 3, 'l2').data, [Math.SQRT2], 'NaN ignored');
  assert.equal(isSignedReduction('max', true), true);
  assert.equal(isSignedReduction('max-abs', true), false);
  assert.equal(isSignedReduction('max', false), false);
  assert.throws(() => reduceChannels(g, 2, 2, 3, 'l2'), /6 values for 2×2×3/);
});

test('percentile interpolates like numpy.percentile', () => {
  const hundred = Float32Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted input
  assert.ok(Math.abs(percentile(hundred, 99) - 99.01) < 1e-4);
  assert.equal(percentile(new Float32Array([4, 1, 3, 2]), 50), 2.5);
  assert.equal(percentile(new Float32Array([4, 1, 3, 2]), 100), 4);
  assert.equal(percentile(new Float32Array([4, 1, 3, 2]), 0), 1);
  assert.equal(percentile(new Float32Array([-9, 1, 2]), 100, true), 9, 'of magnitudes');
  assert.equal(percentile(new Float32Array(0), 99), 0);
  // Against a sort on random data with many ties.
  const random = Float32Array.from({ length: 10001 }, (_, i) => ((i * 7919) % 1000) - 500);
  const sorted = [...random].sort((a, b) => a - b);
  for (const p of [1, 25, 50, 90, 99, 99.9]) {
    const pos = (p / 100) * (sorted.length - 1);
    const lo = Math.floor(pos);
    const expected = sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (pos - lo);
    assert.ok(Math.abs(percentile(random, p) - expected) < 1e-3, `p${p}`);
  }
});

function sortedPercentile(values: Float32Array, p: number, ofMagnitude: boolean): number {
  const sorted = Array.from(values, (v) => (Number.isNaN(v) ? 0 : ofMagnitude ? Math.abs(v) : v)).sort((a, b) => a - b);
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return pos === lo || sorted[lo] === sorted[hi] ? sorted[lo] : sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

test('percentile is exact on heavy tails, ties, infinities and NaNs', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const cases: Record<string, Float32Array> = {
    heavyTail: Float32Array.from({ length: 5000 }, () => (random() - 0.5) * 1e-3 / Math.max(1e-4, random() ** 4)),
    ties: Float32Array.from({ length: 3000 }, () => Math.floor(random() * 4) - 2),
    withInfinity: Float32Array.from({ length: 1000 }, (_, i) => (i === 10 ? Infinity : i === 20 ? -Infinity : random())),
    withNaN: Float32Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? NaN : random() - 0.7)),
    tiny: new Float32Array([5]),
  };
  for (const [name, values] of Object.entries(cases)) {
    for (const p of [0, 1, 50, 99, 99.9, 100]) {
      for (const ofMagnitude of [false, true]) {
        const expected = sortedPercentile(values, p, ofMagnitude);
        const actual = percentile(values, p, ofMagnitude);
        const same = actual === expected || Math.abs(actual - expected) <= 1e-9 * Math.abs(expected);
        assert.ok(same, `${name} p${p} magnitude=${ofMagnitude}: ${actual} vs ${expected}`);
      }
    }
  }
});

test('normalisation clips at the percentile: [0, 1] for magnitudes, symmetric [-1, 1] for signed maps', () => {
  const values = Float32Array.from({ length: 101 }, (_, i) => i); // 0..100, p99 = 99
  const unsigned = normalizeMap({ width: 101, height: 1, data: values }, false, 99);
  assert.equal(unsigned.clipValue, 99);
  near(unsigned.data, [0, 1 / 99], 'low end');
  assert.equal(unsigned.data[99], 1);
  assert.equal(unsigned.data[100], 1, 'the outlier saturates');

  const signed = normalizeMap({ width: 4, height: 1, data: new Float32Array([-4, -1, 0, 2]) }, true, 100);
  assert.equal(signed.clipValue, 4);
  near(signed.data, [-1, -0.25, 0, 0.5], 'signed');

  const zero = normalizeMap({ width: 2, height: 1, data: new Float32Array(2) }, false);
  assert.deepEqual([...zero.data, zero.clipValue], [0, 0, 0], 'an all-zero map stays zero, no NaN');
});

test('clip percentile validation', () => {
  assert.equal(parseClipPercentile('99.5', '--clip'), 99.5);
  for (const bad of ['0', '101', 'abc', '', -1]) {
    assert.throws(() => parseClipPercentile(bad, '--clip'), (e: unknown) => isBadInput(e) && e.message.startsWith('--clip: '));
  }
});

test('bilinear upsampling uses half-pixel centres (torch interpolate, align_corners=False)', () => {
  const map = { width: 2, height: 2, data: new Float32Array([0, 1, 2, 3]) };
  const up = resizeBilinear(map, 4, 4);
  near(up.data, [
    0, 0.25, 0.75, 1,
    0.5, 0.75, 1.25, 1.5,
    1.5, 1.75, 2.25, 2.5,
    2, 2.25, 2.75, 3,
  ], 'up');
  assert.equal(resizeBilinear(map, 2, 2), map, 'same size is the identity');
  const wide = resizeBilinear({ width: 1, height: 1, data: new Float32Array([7]) }, 3, 2);
  assert.deepEqual([...wide.data], [7, 7, 7, 7, 7, 7]);
});

test('the fast RGB path and the generic path of the max reductions agree, NaN and infinities included', () => {
  const values = new Float32Array([3, -7, 2, NaN, -1, 0.5, Infinity, 1, -Infinity, -Infinity, -2, NaN, NaN, NaN, NaN, 1e-30, -1e30, 5]);
  for (const mode of ['max-abs', 'max'] as const) {
    const fast = reduceChannels(values, 1, 6, 3, mode).data;
    // The same numbers as six pixels of 3 channels padded to 4 channels with a value that never wins.
    const padded = new Float32Array(6 * 4);
    for (let p = 0; p < 6; p++) { padded.set(values.subarray(p * 3, p * 3 + 3), p * 4); padded[p * 4 + 3] = NaN; }
    const generic = reduceChannels(padded, 1, 6, 4, mode).data;
    assert.deepEqual([...fast], [...generic], mode);
  }
  assert.deepEqual([...reduceChannels(values, 1, 6, 3, 'max-abs').data], [7, 1, Infinity, Infinity, 0, 1e30].map(Math.fround));
  assert.deepEqual([...reduceChannels(values, 1, 6, 3, 'max').data], [3, 0.5, Infinity, -2, 0, 5]);
});
