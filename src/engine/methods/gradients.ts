/** Gradient-based attributions with respect to the preprocessed input: vanilla, guided, gradient × input. */
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationHook } from '../graph/executor';
import type { LoadedModel } from '../model';
import { guidedBackpropHook } from './guided';

/**
 * The gradient of each sample's target score with respect to its input, NHWC like `x`.
 * `targets[i]` is the class index for sample i (one index broadcasts to the whole batch).
 */
export function inputGradient(model: LoadedModel, x: tf.Tensor4D, targets: number[], hook?: ActivationHook): tf.Tensor4D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const indices = targets.length === 1 ? new Array<number>(n).fill(targets[0]) : targets;
    const selector = tf.oneHot(tf.tensor1d(indices, 'int32'), model.numClasses);
    const score = (input: tf.Tensor4D): tf.Scalar => tf.sum(tf.mul(model.logits(input, { activationHook: hook }), selector));
    return tf.grad(score as (v: tf.Tensor) => tf.Tensor)(x) as tf.Tensor4D;
  });
}

/**
 * The input gradient of one image for a target chosen from the logits of the same forward pass (the forward
 * values do not depend on the target, and a hook only changes the backward). Same values as inputGradient
 * for that target; `timesInput` multiplies by the input (gradient × input).
 */
export function inputGradientAndLogits(model: LoadedModel, x: tf.Tensor4D, choose: (logits: Float32Array) => number,
  hook?: ActivationHook, timesInput = false): { gradient: tf.Tensor4D; logits: Float32Array; target: number } {
  if (x.shape[0] !== 1) throw new Error('the target is chosen for one image at a time');
  let logits = new Float32Array(0);
  let target = -1;
  const gradient = tf.tidy(() => {
    const score = (input: tf.Tensor4D): tf.Scalar => {
      const y = model.logits(input, { activationHook: hook });
      logits = Float32Array.from(y.dataSync());
      target = choose(logits);
      return tf.sum(tf.mul(y, tf.oneHot(tf.tensor1d([target], 'int32'), model.numClasses)));
    };
    const g = tf.grad(score as (v: tf.Tensor) => tf.Tensor)(x) as tf.Tensor4D;
    return timesInput ? tf.mul(g, x) as tf.Tensor4D : g;
  });
  return { gradient, logits, target };
}

/** Simonyan et al. 2014: the plain (signed) input gradient. */
export function vanillaGradient(model: LoadedModel, x: tf.Tensor4D, targets: number[]): tf.Tensor4D {
  return inputGradient(model, x, targets);
}

/** Springenberg et al. 2015: the gradient with guided ReLUs. */
export function guidedGradient(model: LoadedModel, x: tf.Tensor4D, targets: number[]): tf.Tensor4D {
  return inputGradient(model, x, targets, guidedBackpropHook);
}

/** Shrikumar et al. 2016: the input gradient multiplied elementwise by the input. */
export function gradientTimesInput(model: LoadedModel, x: tf.Tensor4D, targets: number[]): tf.Tensor4D {
  return tf.tidy(() => tf.mul(inputGradient(model, x, targets), x) as tf.Tensor4D);
}
