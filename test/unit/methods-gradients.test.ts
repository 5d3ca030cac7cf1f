import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { testBackend } from '../helpers/backend';
import { randomTensor, tinyCnn } from '../helpers/graphs';
import { LoadedModel } from '../../src/engine/model';
import { gradientTimesInput, guidedGradient, vanillaGradient } from '../../src/engine/methods/gradients';
import { runMethod } from '../../src/engine/methods';
import { disposeGraph } from '../../src/engine/graph/ir';
import { assertNoTensorGrowth } from '../helpers/tensorGrowth';
import { cosine } from '../helpers/reference';

/** Guided backprop written out by hand for tinyCnn: explicit forward, explicit masked backward. */
function manualGuided(model: LoadedModel, x: tf.Tensor4D, target: number): Float32Array {
  return tf.tidy(() => {
    const w = (name: string, key: string) => model.executor.node(name)!.weights[key];
    const linear = (name: string, v: tf.Tensor4D) => {
      const n = model.executor.node(name)!;
      const pad = n.attrs.padding === 'same' ? 'same' : [[0, 0], [1, 0], [1, 0], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]];
      return tf.conv2d(v, w(name, 'kernel') as tf.Tensor4D, 1, pad);
    };
    const a1 = tf.add(linear('conv1', x), w('conv1', 'bias')) as tf.Tensor4D;
    const h1 = tf.relu(a1) as tf.Tensor4D;
    const p1 = tf.maxPool(h1, 2, 2, 'valid');
    const a2 = tf.add(linear('conv2', p1), w('conv2', 'bias')) as tf.Tensor4D;
    const h2 = tf.leakyRelu(a2, 0.1) as tf.Tensor4D;
    const a3 = linear('conv3', h2);
    const [, hh, ww] = a3.shape;
    const guide = (dy: tf.Tensor, pre: tf.Tensor, upper = Infinity) => {
      const active = Number.isFinite(upper) ? tf.logicalAnd(tf.greater(pre, 0), tf.less(pre, upper)) : tf.greater(pre, 0);
      return tf.where(tf.logicalAnd(active, tf.greater(dy, 0)), dy, tf.zerosLike(dy));
    };
    const dLogits = tf.cast(tf.oneHot([target], model.numClasses), 'float32');
    const dGap = tf.matMul(dLogits, w('logits', 'kernel') as tf.Tensor2D, false, true);
    const dH3 = tf.div(tf.tile(tf.reshape(dGap, [1, 1, 1, -1]), [1, hh, ww, 1]), hh * ww);
    const dA3 = guide(dH3, a3, 6);
    const dH2 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(linear('conv3', v as tf.Tensor4D), dA3)))(h2);
    const dA2 = guide(dH2, a2);
    const dP1 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(linear('conv2', v as tf.Tensor4D), dA2)))(p1);
    const dH1 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid'), dP1)))(h1);
    const dA1 = guide(dH1, a1);
    return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(linear('conv1', v as tf.Tensor4D), dA1)))(x).dataSync() as Float32Array;
  });
}

test('vanilla gradient matches central finite differences', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(3));
  const x = randomTensor([1, 8, 8, 3], 42, 0, 1) as tf.Tensor4D;
  const grad = vanillaGradient(model, x, [2]);
  const g = grad.dataSync();
  const xs = x.dataSync();
  const eps = 2e-3;
  const numeric: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const score = (delta: number) => tf.tidy(() => {
      const v = Float32Array.from(xs);
      v[i] += delta;
      return model.logits(tf.tensor4d(v, x.shape as [number, number, number, number])).dataSync()[2];
    });
    numeric.push((score(eps) - score(-eps)) / (2 * eps));
  }
  assert.ok(cosine(g, numeric) > 0.999, `cosine ${cosine(g, numeric)}`);
  grad.dispose();
  x.dispose();
  disposeGraph(model.graph);
});

test('guided backprop equals a hand-written masked backward pass (ReLU, LeakyReLU as ReLU, ReLU6 window)', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(5));
  const x = randomTensor([1, 8, 8, 3], 7, 0, 1) as tf.Tensor4D;
  for (const target of [0, 3]) {
    const ours = guidedGradient(model, x, [target]);
    const expected = manualGuided(model, x, target);
    const got = ours.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
    assert.ok(maxDiff < 1e-5, `max diff ${maxDiff}`);
    assert.ok(got.some((v) => v !== 0), 'guided map is not all zero');
    ours.dispose();
  }
  x.dispose();
  disposeGraph(model.graph);
});

test('guided backprop does not change the forward pass, and differs from vanilla', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(9));
  const x = randomTensor([1, 8, 8, 3], 11, 0, 1) as tf.Tensor4D;
  const g = guidedGradient(model, x, [1]).dataSync();
  const v = vanillaGradient(model, x, [1]).dataSync();
  assert.notDeepEqual(Array.from(g), Array.from(v));
  x.dispose();
  disposeGraph(model.graph);
});

test('gradient × input is the elementwise product, and batches use per-sample targets', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(13));
  const x = randomTensor([2, 8, 8, 3], 17, 0, 1) as tf.Tensor4D;
  const gxi = gradientTimesInput(model, x, [0, 3]).dataSync();
  const g = vanillaGradient(model, x, [0, 3]).dataSync();
  const xs = x.dataSync();
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(gxi[i] - g[i] * xs[i]) < 1e-6);
  const single = vanillaGradient(model, tf.slice(x, [1, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D, [3]).dataSync();
  const secondHalf = g.slice(g.length / 2);
  for (let i = 0; i < single.length; i++) assert.ok(Math.abs(single[i] - secondHalf[i]) < 1e-5);
  x.dispose();
  disposeGraph(model.graph);
});

test('no tensor growth over 50 runs of every method', async () => {
  await assertNoTensorGrowth(50, async (model, x) => {
    for (const method of ['vanilla', 'guided', 'gradient-x-input'] as const) {
      const out = await runMethod(method, model, x, [1]);
      out.attribution.dispose();
    }
  });
});
