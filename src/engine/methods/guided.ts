/** Guided backpropagation (Springenberg et al. 2015) as an executor activation hook. */
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationHook } from '../graph/executor';
import type { GraphNode } from '../graph/ir';

/** Where the forward input lets gradient through: the activation's "active" region, treated as a ReLU. */
function activeRegion(node: GraphNode, x: tf.Tensor): tf.Tensor {
  const lower = node.op === 'clip' && typeof node.attrs.min === 'number' ? Math.max(0, node.attrs.min) : 0;
  const upper = node.op === 'relu6' ? 6 : node.op === 'clip' && typeof node.attrs.max === 'number' ? node.attrs.max : Infinity;
  const above = tf.greater(x, lower);
  return Number.isFinite(upper) ? tf.logicalAnd(above, tf.less(x, upper)) : above;
}

/**
 * At every ReLU-family activation the backward pass lets through only positive incoming gradient, and only
 * where the forward input was in the active region (ReLU: x > 0; ReLU6/clip: 0 < x < max; LeakyReLU, PReLU
 * and ELU are treated as ReLU). The forward value is unchanged, so predictions stay the model's own.
 * Unlike FlashTorch, the mask uses the activation's input, not its output, and no hooks outlive a run.
 */
export const guidedBackpropHook: ActivationHook = (node, x, forward) => {
  const guided = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return {
      value: forward(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const pass = tf.logicalAnd(activeRegion(node, saved[0]), tf.greater(dy, 0));
        return tf.where(pass, dy, tf.zerosLike(dy));
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return guided(x);
};
