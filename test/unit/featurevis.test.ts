import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { testBackend } from '../helpers/backend';
import { randomTensor, tinyCnn } from '../helpers/graphs';
import { LoadedModel } from '../../src/engine/model';
import { CancelledError, isBadInput } from '../../src/shared/errors';
import { PREPROCESS_PRESETS } from '../../src/shared/protocol';
import { preprocessImage } from '../../src/engine/image/preprocess';
import { realFourierBasis, spectrumScale } from '../../src/engine/featureVis/fourier';
import { fourierParam, pixelParam } from '../../src/engine/featureVis/param';
import { affineResample, translation } from '../../src/engine/featureVis/resample';
import { defaultTransforms, randomAffines } from '../../src/engine/featureVis/transforms';
import { objectiveValues, rgbToInput } from '../../src/engine/featureVis/objective';
import { redirectedReluHook } from '../../src/engine/featureVis/redirect';
import { visualizeModelFilters } from '../../src/engine/featureVis/filters';
import { highFrequencyEnergy } from '../../src/engine/featureVis/metrics';
import { filterGrid } from '../../src/engine/featureVis/images';
import { uniformRandom } from '../../src/engine/methods/sampling';
import { parseFilterList } from '../../src/cli/filters';
import { node } from '../helpers/graphs';
import type { GraphNode } from '../../src/engine/graph/ir';

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('the real Fourier basis is orthonormal, with frequencies up to Nyquist', () => {
  for (const n of [7, 8]) {
    const { matrix, freqs } = realFourierBasis(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let p = 0; p < n; p++) dot += matrix[p * n + i] * matrix[p * n + j];
        assert.ok(close(dot, i === j ? 1 : 0, 1e-5), `n=${n} columns ${i},${j}: ${dot}`);
      }
    }
    assert.equal(freqs[0], 0);
    assert.ok(Math.max(...freqs) <= 0.5);
  }
  const s = spectrumScale(realFourierBasis(8), realFourierBasis(8));
  assert.equal(s[0], 8, 'DC is capped at 1 / (1 / size)');
  assert.ok(s[1] > s[8 * 8 - 1], 'low frequencies get larger scales than high ones');
});

test('pixel and Fourier parameterisations render RGB in (0, 1) and have gradients', async () => {
  await testBackend();
  for (const make of [pixelParam, fourierParam]) {
    const { param, vars } = make(2, 12, 10, uniformRandom(1));
    const img = param.render(vars);
    assert.deepEqual(img.shape, [2, 12, 10, 3]);
    const values = img.dataSync();
    assert.ok(values.every((v) => v > 0 && v < 1));
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.square(param.render([v]))))(vars[0]);
    assert.ok(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]) > 0);
    [img, g, ...vars].forEach((t) => t.dispose());
    param.dispose();
  }
});

test('affine resampling: identity is exact, and the backward pass is the adjoint of the forward', async () => {
  await testBackend();
  const x = randomTensor([2, 9, 7, 3], 3) as tf.Tensor4D;
  const same = affineResample(x, [translation(), translation()], 9, 7);
  assert.deepEqual(Array.from(same.dataSync()), Array.from(x.dataSync()));
  const maps = randomAffines(2, defaultTransforms(30), uniformRandom(5));
  const y = randomTensor([2, 6, 8, 3], 4);
  const forward = tf.tidy(() => tf.sum(tf.mul(affineResample(x, maps, 6, 8), y)).dataSync()[0]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(affineResample(v as tf.Tensor4D, maps, 6, 8), y)))(x);
  const adjoint = tf.tidy(() => tf.sum(tf.mul(g, x)).dataSync()[0]);
  assert.ok(close(adjoint, forward, 1e-4), `<Rx, y> ${forward} vs <x, Rᵀy> ${adjoint}`);
  [x, same, y, g].forEach((t) => t.dispose());
});

test('rgbToInput is preprocessImage as tensor ops, for every preset and for 1 and 3 channels', async () => {
  await testBackend();
  const pixels = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256);
  for (const preset of PREPROCESS_PRESETS) {
    for (const channels of [1, 3]) {
      const expected = preprocessImage({ width: 5, height: 4, data: pixels }, preset, channels);
      const got = tf.tidy(() => rgbToInput(tf.div(tf.tensor4d(Float32Array.from(pixels), [1, 4, 5, 3]), 255) as tf.Tensor4D, preset, channels).dataSync());
      assert.equal(got.length, expected.length);
      for (let i = 0; i < got.length; i++) assert.ok(close(got[i], expected[i], 1e-4), `${preset}/${channels} [${i}]: ${got[i]} vs ${expected[i]}`);
    }
  }
});

test('redirected ReLU gradient: wakes a silent unit, otherwise the true gradient', async () => {
  await testBackend();
  const relu = node('r', 'relu', ['x']);
  const grad = (values: number[]) => tf.tidy(() => Array.from(tf.grad((v: tf.Tensor) =>
    tf.sum(tf.mul(redirectedReluHook(relu, v, (z) => tf.relu(z)), tf.tensor([[1, -1, 1]]))))(tf.tensor([values])).dataSync(), (g) => g + 0)); // −0 → 0
  assert.deepEqual(grad([-1, -2, -3]), [1, 0, 1], 'all blocked: pass gradient that raises the input');
  assert.deepEqual(grad([2, -2, -3]), [1, 0, 0], 'something passes: the true ReLU gradient');
});

test('redirected gradient of relu, relu6 and clip on 4-D tensors equals the rule written out', async () => {
  await testBackend();
  const [n, h, w, c] = [2, 3, 3, 4];
  // Values on both sides of and exactly at the bounds; image 1 channel 2 is blocked everywhere.
  const zs = randomTensor([n, h, w, c], 5, -8, 8).arraySync() as number[][][][];
  zs.forEach((img, b) => img.forEach((row) => row.forEach((px, j) => {
    px[0] = [0, 6, -1, 2][j % 4];
    if (b === 1) px[2] = -3 - j;
  })));
  const dys = randomTensor([n, h, w, c], 6, -1, 1).arraySync() as number[][][][];
  const cases: Array<[GraphNode, number, number]> = [
    [node('r', 'relu', ['x']), 0, Infinity],
    [node('r6', 'relu6', ['x']), 0, 6],
    [{ ...node('cl', 'clip', ['x']), attrs: { min: -1, max: 2 } }, -1, 2],
  ];
  for (const [op, lo, hi] of cases) {
    const got = tf.tidy(() => Array.from(tf.grad((v: tf.Tensor) => tf.sum(tf.mul(
      redirectedReluHook(op, v, (z) => tf.clipByValue(z, lo, hi)), tf.tensor(dys))))(tf.tensor(zs)).dataSync()));
    const want: number[] = [];
    zs.forEach((img, b) => img.forEach((row, i) => row.forEach((px, j) => px.forEach((z, ch) => {
      const dy = dys[b][i][j][ch];
      const active = z > lo && z < hi;
      let passes = false;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) passes ||= img[y][x][ch] > lo && img[y][x][ch] < hi && dys[b][y][x][ch] !== 0;
      const stuck = (z <= lo && dy > 0) || (z >= hi && dy < 0);
      want.push(active ? dy : !passes && stuck ? dy : 0);
    }))));
    got.forEach((g, k) => assert.ok(Math.abs(g - want[k]) < 1e-7, `${op.op} [${k}]: ${g} vs ${want[k]}`));
  }
});

test('objectives: channel mean, centre neuron, logit, whole layer', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(2));
  const x = randomTensor([2, 8, 8, 3], 9) as tf.Tensor4D;
  const act = model.executor.run(x, { output: 'conv2' }).output; // [2, 4, 4, 5]
  const a = act.arraySync() as number[][][][];
  const channel = objectiveValues(model, x, { kind: 'channel', layer: 'conv2', indices: [1, 3] }).arraySync();
  const mean = (b: number, c: number) => a[b].flat().reduce((s, v) => s + v[c], 0) / 16;
  assert.ok(close(channel[0], mean(0, 1), 1e-5) && close(channel[1], mean(1, 3), 1e-5));
  const neuron = objectiveValues(model, x, { kind: 'neuron', layer: 'conv2', indices: [4, 0] }).arraySync();
  assert.ok(close(neuron[0], a[0][2][2][4], 1e-5) && close(neuron[1], a[1][2][2][0], 1e-5));
  const logits = model.logits(x).arraySync();
  const logit = objectiveValues(model, x, { kind: 'logit', layer: model.logitsNode, indices: [2, 1] }).arraySync();
  assert.ok(close(logit[0], logits[0][2], 1e-5) && close(logit[1], logits[1][1], 1e-5));
  const layer = objectiveValues(model, x, { kind: 'layer', layer: 'conv2', indices: [0, 0] }).arraySync();
  const sq = a[0].flat(2).reduce((s, v) => s + v * v, 0) / (16 * 5);
  assert.ok(close(layer[0], sq, 1e-5));
  tf.dispose([x, act]);
  model.dispose();
});

test('filters on a tiny CNN: each objective rises, the negative one falls, memory stays flat, cancel frees all', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(3, 16));
  const run = (options: Parameters<typeof visualizeModelFilters>[5], hooks?: Parameters<typeof visualizeModelFilters>[6]) =>
    visualizeModelFilters(model, 'unit', 'leaky2', [0, 2, 4], undefined, { steps: 24, batch: 2, ...options }, hooks);
  await run({ steps: 1 }); // warm caches (conv sub-kernels are cached per weight)
  const base = tf.memory().numTensors;
  const counts: number[] = [];
  const r = await run({ imageEvery: 4 }, { onImages: () => { counts.push(tf.memory().numTensors); } });
  assert.equal(tf.memory().numTensors, base, 'no tensor outlives a run');
  assert.equal(new Set(counts.slice(0, 6)).size, 1, `tensor count during a batch is constant: ${counts}`);
  assert.deepEqual(r.outcomes.map((o) => o.index), [0, 2, 4]);
  for (const o of r.outcomes) {
    assert.ok(o.after > o.before, `filter ${o.index}: ${o.before} → ${o.after}`);
    assert.equal(o.image.width, 16);
  }
  const neg = await run({ negative: true, param: 'pixel' });
  for (const o of neg.outcomes) assert.ok(o.after < o.before, `negative filter ${o.index}: ${o.before} → ${o.after}`);
  const ft = await run({ flashtorch: true, steps: 5 });
  assert.equal(ft.options.optimizer, 'rms');
  assert.equal(ft.options.transforms, null);
  for (const o of ft.outcomes) assert.ok(o.after >= o.before, `FlashTorch filter ${o.index}: ${o.before} → ${o.after}`);
  const logit = await visualizeModelFilters(model, 'unit', undefined, [1], undefined, { objective: 'logit', steps: 10, param: 'pixel' });
  assert.equal(logit.layer, model.logitsNode);
  assert.ok(logit.outcomes[0].after > logit.outcomes[0].before);
  const beforeCancel = tf.memory().numTensors; // the logit run cached conv3's sub-kernels
  let steps = 0;
  await assert.rejects(run({}, { checkpoint: async () => { if (++steps === 3) throw new CancelledError(); } }), CancelledError);
  assert.equal(tf.memory().numTensors, beforeCancel, 'a cancelled run frees its tensors');
  model.dispose();
});

test('bad layers, filters and objectives are one-line BadInputErrors', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(3, 16));
  const bad = async (layer: string | undefined, filters: number[] | undefined, options: object, pattern: RegExp) => {
    await assert.rejects(visualizeModelFilters(model, 'unit', layer, filters, undefined, { steps: 1, ...options }),
      (e: Error) => isBadInput(e) && pattern.test(e.message) && !e.message.includes('\n'));
  };
  await bad('nope', undefined, {}, /nope: no layer/);
  await bad('conv2', [5], {}, /--filters: 5 is not a filter of conv2 \(it has 5/);
  await bad(undefined, undefined, {}, /--layer/);
  await bad('gap', [0], { objective: 'neuron' }, /spatial/);
  await bad('conv2', undefined, { objective: 'banana' }, /--objective/);
  await bad('conv2', undefined, { steps: 0 }, /--steps/);
  model.dispose();
});

test('high-frequency energy: near 0 for a smooth ramp, high for noise', () => {
  const size = 32;
  const ramp = new Uint8Array(size * size * 3);
  const noise = new Uint8Array(size * size * 3);
  const rand = uniformRandom(2);
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) {
      ramp[i * 3 + c] = Math.round(127 + 100 * Math.sin((2 * Math.PI * (i % size)) / size));
      noise[i * 3 + c] = Math.floor(256 * rand());
    }
  }
  assert.ok(highFrequencyEnergy({ width: size, height: size, data: ramp }) < 0.01);
  assert.ok(highFrequencyEnergy({ width: size, height: size, data: noise }) > 0.6);
});

test('grid layout and the --filters list syntax', () => {
  const tile = { width: 4, height: 3, data: new Uint8Array(36).fill(7) };
  const grid = filterGrid([tile, tile, tile, tile, tile], { gap: 2, minTile: 8 });
  // 3 columns, 2 rows of tiles enlarged ×3 (12×9) with 2-pixel gaps.
  assert.deepEqual([grid.width, grid.height], [3 * 12 + 4 * 2, 2 * 9 + 3 * 2]);
  assert.equal(grid.data[(2 * grid.width + 2) * 3], 7);
  assert.equal(grid.data[0], 255);
  assert.deepEqual(parseFilterList('0,3, 5-7'), [0, 3, 5, 6, 7]);
  assert.throws(() => parseFilterList('a'), /--filters/);
});
