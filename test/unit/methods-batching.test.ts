import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { testBackend } from '../helpers/backend';
import { randomTensor, tinyCnn } from '../helpers/graphs';
import { LoadedModel } from '../../src/engine/model';
import { runMethod } from '../../src/engine/methods';
import { disposeGraph } from '../../src/engine/graph/ir';
import { assertNoTensorGrowth } from '../helpers/tensorGrowth';
import { autoBatchSize, bytesPerImage, inBatches, MAX_AUTO_BATCH, MAX_SMALL_BATCH, SMALL_IMAGE_BYTES } from '../../src/engine/methods/sampling';
import { clearKernelCache, subKernel } from '../../src/engine/kernels/kernel_cache';
import type { MethodName, MethodOptions } from '../../src/shared/protocol';

const CASES: Array<[MethodName, MethodOptions]> = [
  ['smoothgrad', { samples: 7, seed: 3 }],
  ['smoothgrad', { samples: 5, seed: 4, smoothBase: 'guided' }],
  ['vargrad', { samples: 6, seed: 2 }],
  ['integrated-gradients', { steps: 7 }],
  ['integrated-gradients', { steps: 6, baseline: 'uniform', seed: 2 }],
  ['occlusion', { patch: 3, stride: 2 }],
  ['scorecam', {}],
];

test('multi-pass maps do not depend on the batch size, automatic or not (odd input size)', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(31, 7, 1));
  const x = randomTensor([1, 7, 7, 1], 9, 0, 1) as tf.Tensor4D;
  const ctx = { pixelToInput: (level: number) => Float32Array.of(level / 255) };
  for (const [method, options] of CASES) {
    const maps: Float32Array[] = [];
    for (const batch of [1, 3, undefined, 64]) {
      const out = await runMethod(method, model, x, [2], { ...ctx, options: { ...options, batch } });
      maps.push(out.attribution.dataSync() as Float32Array);
      out.attribution.dispose();
    }
    const scale = Math.max(...maps[0].map(Math.abs));
    assert.ok(scale > 0, `${method} ${JSON.stringify(options)}: the map is all zero`);
    for (const m of maps.slice(1)) {
      const diff = Math.max(...m.map((v, i) => Math.abs(v - maps[0][i])));
      assert.ok(diff <= 1e-5 * scale, `${method} ${JSON.stringify(options)}: max diff ${diff} of ${scale}`);
    }
  }
  x.dispose();
  disposeGraph(model.graph);
});

test('automatic batches stay within the memory budget, cover every pass once and adapt after measuring', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(3));
  const perImage = 1000;
  // The zeros and their sum are alive together: 8 bytes per float of an image.
  const batch = { model, pass: 'test', budget: 3 * perImage * 8 + 100 };
  const seen: Array<[number, number]> = [];
  const step = (start: number, n: number) => {
    seen.push([start, n]);
    tf.tidy(() => tf.add(tf.zeros([n, perImage]), 1).dataSync());
  };
  await inBatches(10, batch, {}, 'test', step);
  assert.deepEqual(seen.map(([, n]) => n).reduce((a, b) => a + b, 0), 10);
  seen.forEach(([start], i) => assert.equal(start, i === 0 ? 0 : seen[i - 1][0] + seen[i - 1][1]));
  // Two passes to measure, then the budget's three images at most, balanced so no batch of one is left.
  assert.deepEqual(seen.map(([, n]) => n), [2, 3, 3, 2]);
  const measured = bytesPerImage(model, 'test')!;
  assert.ok(measured >= perImage * 4 * 2 && measured <= perImage * 4 * 2 + 200, `bytes per image ${measured}`);
  assert.equal(autoBatchSize(batch), 3);
  assert.equal(autoBatchSize({ ...batch, budget: 1e12 }), MAX_SMALL_BATCH, 'small images: capped at MAX_SMALL_BATCH');
  assert.equal(autoBatchSize({ ...batch, budget: 1e12, max: 16 }), 16, 'or at the given maximum');
  assert.equal(bytesPerImage(model, 'other'), undefined, 'kinds of pass are measured separately');
  // Images of SMALL_IMAGE_BYTES and more: capped at MAX_AUTO_BATCH however large the budget.
  const large = { model, pass: 'large', budget: 1e12 };
  await inBatches(2, large, {}, 'test', (_s, n) => tf.tidy(() => void tf.add(tf.zeros([n, SMALL_IMAGE_BYTES / 4]), 1).dataSync()));
  assert.ok(bytesPerImage(model, 'large')! >= SMALL_IMAGE_BYTES);
  assert.equal(autoBatchSize(large), MAX_AUTO_BATCH);
  disposeGraph(model.graph);
});

test('kernel variants cached during a measured batch are not counted as the batch\'s memory', async () => {
  await testBackend();
  clearKernelCache();
  const model = LoadedModel.fromGraph(tinyCnn(3));
  const weight = model.graph.nodes.flatMap((n) => Object.values(n.weights))[0];
  const perImage = 1000;
  const cached = 50 * perImage * 4;
  const nested = 20 * perImage * 4;
  const step = (_start: number, n: number) => {
    // The first pass of a model caches its kernel variants (Winograd transforms, flipped kernels), and variants
    // of those (a padded copy of a phase kernel): they stay.
    const variant = subKernel(weight, 'measured-step test', () => tf.zeros([cached / 4]));
    subKernel(variant, 'a variant of the variant', () => tf.zeros([nested / 4]));
    tf.tidy(() => tf.add(tf.zeros([n, perImage]), 1).dataSync());
  };
  const before = model.residentBytes();
  await inBatches(2, { model, pass: 'caching' }, {}, 'test', step);
  assert.equal(model.residentBytes() - before, cached + nested, 'the variants stay with the model');
  const measured = bytesPerImage(model, 'caching')!;
  assert.ok(measured >= perImage * 4 * 2 && measured <= perImage * 4 * 2 + 200, `bytes per image ${measured}`);
  disposeGraph(model.graph);
  clearKernelCache();
});

test('a batch that throws rejects and leaves no profiling or tensors behind', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(4));
  const before = tf.memory().numTensors;
  await assert.rejects(inBatches(4, { model, pass: 'throws' }, {}, 'test', () => {
    tf.tidy(() => {
      tf.ones([2, 2]);
      throw new Error('boom');
    });
  }), /boom/);
  assert.equal((tf.engine() as unknown as { state: { profiling: boolean } }).state.profiling, false);
  assert.equal(tf.memory().numTensors, before);
  disposeGraph(model.graph);
});

test('inside an outer tf.profile, automatic batches run unmeasured and leave the outer profile intact', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(6));
  const sizes: number[] = [];
  const info = await tf.profile(() => inBatches(5, { model, pass: 'nested' }, {}, 'test', (_s, n) => {
    sizes.push(n);
    tf.tidy(() => tf.add(tf.zeros([n, 10]), 1));
  }));
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.equal(bytesPerImage(model, 'nested'), undefined);
  assert.equal(info.kernels.filter((k) => k.name === 'Add').length, 3, 'the outer profile saw every batch');
  disposeGraph(model.graph);
});

test('no tensor growth over repeated automatic multi-pass runs', async () => {
  await assertNoTensorGrowth(5, async (model, x) => {
    for (const [method, options] of CASES) {
      const out = await runMethod(method, model, x, [1], { pixelToInput: () => new Float32Array(3), options });
      out.attribution.dispose();
    }
  });
});
