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
