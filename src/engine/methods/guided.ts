/** Guided backpropagation (Springenberg et al. 2015) as an executor activation hook. */
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationHook } from '../graph/executor';
import type { GraphNode } from '../graph/ir';
import { openIntervalMask } from '../kernels/activations';

/** The open interval (lower, upper) of forward inputs where the activation is "active", treated as a ReLU. */
function activeInterval(node: GraphNode): [number, number] {
  const lower = node.op === 'clip' && typeof node.attrs.min === 'number' ? Math.max(0, node.attrs.min) : 0;
  const upper = node.op === 'relu6' ? 6 : node.op === 'clip' && typeof node.attrs.max === 'number' ? node.attrs.max : Infinity;
  return [lower, upper];
}

/**
 * At every ReLU-family activation the backward pass lets through only positive incoming gradient, and only
 * where the forward input was in the active region (ReLU: x > 0; ReLU6/clip: 0 < x < max; LeakyReLU, PReLU
 * and ELU are treated as ReLU). The forward value is unchanged, so predictions stay the model's own.
 * Unlike FlashTorch, the mask uses the activation's input, not its output, and no hooks outlive a run.
 */
export const guidedBackpropHook: ActivationHook = (node, x, forward) => {
  const [lower, upper] = activeInterval(node);
  const guided = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return {
      value: forward(input),
      // relu(dy · mask) is dy where dy > 0 inside the active region, else 0, in XNNPACK ops (no Greater/Select).
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => tf.relu(tf.mul(dy, openIntervalMask(saved[0], lower, upper)))),
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return guided(x);
};
