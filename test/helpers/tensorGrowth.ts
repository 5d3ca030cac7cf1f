/** The "no tensor growth over repeated runs" check that method tests share. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { testBackend } from './backend';
import { randomTensor, tinyCnn } from './graphs';
import { LoadedModel } from '../../src/engine/model';
import { disposeGraph } from '../../src/engine/graph/ir';

/**
 * Runs `pass` once on a tiny CNN and an 8×8 input (to fill every cache), then `repeats` more times, and
 * asserts tf.memory().numTensors did not change.
 */
export async function assertNoTensorGrowth(repeats: number, pass: (model: LoadedModel, x: tf.Tensor4D) => Promise<void>): Promise<void> {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(21));
  const x = randomTensor([1, 8, 8, 3], 23, 0, 1) as tf.Tensor4D;
  await pass(model, x);
  const before = tf.memory().numTensors;
  for (let i = 0; i < repeats; i++) await pass(model, x);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  disposeGraph(model.graph);
}
