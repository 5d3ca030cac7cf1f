/** Test helper: small graphs in the internal representation, built directly (no file format involved). */
import * as tf from '@tensorflow/tfjs-core';
import type { Graph, GraphNode, OpType } from '../../src/engine/graph/ir';
import { uniformRandom } from '../../src/engine/methods/sampling';

/** A tensor of the given shape with values uniform in [lo, hi), from a seed. */
export function randomTensor(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const rand = uniformRandom(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => lo + (hi - lo) * rand()), shape);
}

/** Shorthand for a node. */
export function node(name: string, op: OpType, inputs: string[], attrs: GraphNode['attrs'] = {}, weights: GraphNode['weights'] = {}): GraphNode {
  return { name, op, inputs, attrs, weights, sourceOp: op };
}

/** conv(3×3) → relu → maxPool → conv(1×1) → leakyRelu → relu6-capped conv → globalAvgPool → dense: a tiny CNN. */
export function tinyCnn(seed = 1, size = 8, inC = 3, classes = 4): Graph {
  return {
    format: 'tfjs-layers',
    input: { name: 'x', height: size, width: size, channels: inC, sourceLayout: 'NHWC' },
    output: 'logits',
    notes: [],
    nodes: [
      node('conv1', 'conv2d', ['x'], { strides: [1, 1], padding: 'same' }, { kernel: randomTensor([3, 3, inC, 6], seed), bias: randomTensor([6], seed + 1, -0.1, 0.1) }),
      node('relu1', 'relu', ['conv1']),
      node('pool1', 'maxPool', ['relu1'], { kernel: [2, 2], strides: [2, 2], padding: 'valid' }),
      node('conv2', 'conv2d', ['pool1'], { strides: [1, 1], padding: 'same' }, { kernel: randomTensor([1, 1, 6, 5], seed + 2), bias: randomTensor([5], seed + 3, -0.1, 0.1) }),
      node('leaky2', 'leakyRelu', ['conv2'], { alpha: 0.1 }),
      node('conv3', 'conv2d', ['leaky2'], { strides: [1, 1], padding: [1, 0, 1, 0] }, { kernel: randomTensor([2, 2, 5, 5], seed + 4, -2, 2) }),
      node('relu6', 'relu6', ['conv3']),
      node('gap', 'globalAvgPool', ['relu6']),
      node('logits', 'dense', ['gap'], {}, { kernel: randomTensor([5, classes], seed + 5), bias: randomTensor([classes], seed + 6, -0.1, 0.1) }),
    ],
  };
}
