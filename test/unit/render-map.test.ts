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
