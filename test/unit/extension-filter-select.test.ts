// The pure logic of "Visualize Filters…": channel counts, first/random/list choices and their validation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  channelCount, firstFilters, parseCount, parseFilterList, randomFilters, shapeText,
} from '../../src/extension/filterSelect';
import { featureTitle } from '../../src/extension/featureCore';
import { uniformRandom } from '../../src/shared/random';

describe('filter selection', () => {
  it('reads the channel count of NHWC and NCHW outputs', () => {
    assert.equal(channelCount({ outputShape: [-1, 56, 56, 32] }), 32);
    assert.equal(channelCount({ outputShape: [-1, 64, 28, 28] }), 64);
    assert.equal(channelCount({ outputShape: [-1, 28, 28, 28] }), 28);
    assert.equal(channelCount({ outputShape: [-1, 7, 7, 64] }, 'NHWC'), 64);
    assert.equal(channelCount({ outputShape: [-1, 64, 7, 7] }, 'NCHW'), 64);
    assert.equal(channelCount({ outputShape: null }), undefined);
    assert.equal(channelCount({ outputShape: [-1, 10] }), undefined);
    assert.equal(channelCount({ outputShape: [-1, 8, 8, -1] }), undefined);
    assert.equal(shapeText([-1, 56, 56, 32]), '56×56×32');
    assert.equal(shapeText([-1, -1, -1, 3]), '?×?×3');
    assert.equal(shapeText(null), 'shape unknown');
  });

  it('picks the first N, capped at the channel count', () => {
    assert.deepEqual(firstFilters(4, 32), [0, 1, 2, 3]);
    assert.deepEqual(firstFilters(16, 3), [0, 1, 2]);
    assert.deepEqual(firstFilters(2, undefined), [0, 1]);
  });

  it('picks N distinct random filters, the same for the same seed', () => {
    const a = randomFilters(8, 64, 0);
    assert.equal(a.length, 8);
    assert.equal(new Set(a).size, 8);
    assert.ok(a.every((i) => Number.isInteger(i) && i >= 0 && i < 64));
    assert.deepEqual(a, [...a].sort((x, y) => x - y));
    assert.deepEqual(randomFilters(8, 64, 0), a);
    assert.notDeepEqual(randomFilters(8, 64, 1), a);
    assert.deepEqual(randomFilters(10, 4, 3), [0, 1, 2, 3]);
    assert.deepEqual(randomFilters(0, 4, 3), []);
    const r = uniformRandom(42);
    const xs = Array.from({ length: 1000 }, r);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  });

  it('validates counts', () => {
    assert.deepEqual(parseCount('16', 32), { count: 16 });
    assert.deepEqual(parseCount(' 4 ', undefined), { count: 4 });
    assert.ok('error' in parseCount('0', 32));
    assert.ok('error' in parseCount('abc', 32));
    assert.ok('error' in parseCount('2.5', 32));
    assert.match((parseCount('40', 32) as { error: string }).error, /at most 32/);
  });

  it('parses lists and ranges against the channel count', () => {
    assert.deepEqual(parseFilterList('0,1,2', 8), { filters: [0, 1, 2] });
    assert.deepEqual(parseFilterList('4-7', 8), { filters: [4, 5, 6, 7] });
    assert.deepEqual(parseFilterList(' 5, 0-2 , 1, 7 ', 8), { filters: [5, 0, 1, 2, 7] });
    assert.deepEqual(parseFilterList('3 - 4', undefined), { filters: [3, 4] });
    assert.match((parseFilterList('8', 8) as { error: string }).error, /8 filters \(0–7\)/);
    assert.match((parseFilterList('6-9', 8) as { error: string }).error, /out of range/);
    assert.match((parseFilterList('7-4', 8) as { error: string }).error, /backwards/);
    assert.match((parseFilterList('a', 8) as { error: string }).error, /not an index/);
    assert.match((parseFilterList('-1', 8) as { error: string }).error, /not an index/);
    assert.ok('error' in parseFilterList('', 8));
    assert.ok('error' in parseFilterList(' , ', 8));
    assert.ok('error' in parseFilterList('0-100000', undefined));
  });

  it('titles the panels', () => {
    assert.equal(featureTitle({ kind: 'filters', params: { modelPath: '/m/model.json', layer: 'block3_relu', filters: [0] } }), 'Filters: block3_relu');
    assert.equal(featureTitle({ kind: 'dream', params: { modelPath: '/m/model.json', imagePath: '/img/cat.png', layer: 'conv1' } }), 'Dream: cat.png');
  });
});
