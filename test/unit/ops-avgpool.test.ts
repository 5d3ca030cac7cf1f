import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { testBackend } from '../helpers/backend';
import { node, randomTensor } from '../helpers/graphs';
import { OP_IMPLS } from '../../src/engine/graph/ops';

// tfjs's stock AvgPool gradient divides by the whole window even where 'same' padding shortens it, so it
// disagrees with its own forward pass at the edges. Ours must equal the derivative of the forward pass.
test("avgPool with 'same' padding: the input gradient is the derivative of the forward pass", async () => {
  await testBackend();
  for (const [k, s] of [[2, 2], [2, 1], [3, 2]] as const) {
    const n = node('pool', 'avgPool', ['x'], { kernel: [k, k], strides: [s, s], padding: 'same' });
    const x = randomTensor([1, 7, 5, 2], 3 + k + s) as tf.Tensor4D;
    const w = randomTensor([1, ...OP_IMPLS.avgPool([x], n).shape.slice(1)], 9);
    const f = (v: tf.Tensor) => tf.sum(tf.mul(OP_IMPLS.avgPool([v], n), w));
    const g = tf.grad(f)(x).dataSync();
    // The forward pass is linear in x: its derivative is exact from unit perturbations.
    const xs = x.dataSync();
    const base = f(x).dataSync()[0];
    for (let i = 0; i < xs.length; i += 3) {
      const bumped = Float32Array.from(xs);
      bumped[i] += 1;
      const numeric = f(tf.tensor4d(bumped, x.shape)).dataSync()[0] - base;
      assert.ok(Math.abs(numeric - g[i]) < 1e-4, `k${k} s${s} element ${i}: ${g[i]} vs ${numeric}`);
    }
  }
});
