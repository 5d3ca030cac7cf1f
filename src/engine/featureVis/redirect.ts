/**
 * "Redirected" ReLU gradients for activation maximisation. A filter that is silent on the start image (all its
 * ReLU inputs negative) has a zero gradient, and plain gradient ascent never wakes it. Lucid's remedy, used
 * here in the same spirit: where the true gradient through a ReLU is entirely zero — per image and channel
 * for spatial activations, per image otherwise — let through the part of the incoming gradient that pushes
 * inputs back into the active region. As soon as any gradient passes there, the true gradient is used again.
 * Forward values are never changed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationHook } from '../graph/executor';
import type { GraphNode } from '../graph/ir';

/** The [lower, upper] of the active region of relu, relu6 and clip nodes. */
function bounds(node: GraphNode): [number, number] {
  if (node.op === 'relu6') return [0, 6];
  if (node.op === 'clip') {
    const lo = typeof node.attrs.min === 'number' ? node.attrs.min : -Infinity;
    const hi = typeof node.attrs.max === 'number' ? node.attrs.max : Infinity;
    return [lo, hi];
  }
  return [0, Infinity];
}

/** True where any element of `t` is non-zero per image and channel (NHWC), or per image (other ranks). */
function anyNonZero(t: tf.Tensor): tf.Tensor {
  if (t.rank === 4) return tf.greater(tf.max(tf.abs(t), [1, 2], true), 0);
  const n = t.shape[0];
  const flat = tf.reshape(tf.abs(t), [n, -1]);
  return tf.reshape(tf.greater(tf.max(flat, 1), 0), [n, ...t.shape.slice(1).map(() => 1)]);
}

/**
 * An executor hook: relu, relu6 and clip nodes get the redirected gradient (gradient ascent convention: dy
 * is d(objective)/d(output)); other activations are left alone.
 */
export const redirectedReluHook: ActivationHook = (node, x, forward) => {
  if (node.op !== 'relu' && node.op !== 'relu6' && node.op !== 'clip') return forward(x);
  const [lo, hi] = bounds(node);
  const op = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return {
      value: forward(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const z = saved[0];
        // 0/1 float masks from Step (x > 0) and arithmetic: wasm's comparisons, their bool→float casts,
        // tf.where and broadcastTo cost several times more per 112×112×64 tensor. Same values: z ≤ lo exactly
        // when z − lo ≤ 0, and an infinite bound (ReLU's top) blocks nothing.
        const below = tf.sub(1, tf.step(tf.sub(z, lo)));
        const above = Number.isFinite(hi) ? tf.sub(1, tf.step(tf.sub(hi, z))) : null;
        const active = above ? tf.sub(tf.sub(1, below), above) : tf.sub(1, below);
        const trueGrad = tf.mul(dy, active);
        if (dy.rank === 0) return trueGrad;
        // Where the input is stuck below (above) the active region, pass gradient that raises (lowers) it,
        // unless some true gradient passes in that image and channel: dy · (active + stuck · (1 − passes)).
        const raise = tf.mul(below, tf.step(dy));
        const stuck = above ? tf.add(raise, tf.mul(above, tf.step(tf.neg(dy)))) : raise;
        const blocked = tf.sub(1, tf.cast(anyNonZero(trueGrad), 'float32'));
        return tf.mul(dy, tf.add(active, tf.mul(stuck, blocked)));
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return op(x);
};
