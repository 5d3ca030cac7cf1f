/** Convolutions whose input gradient is cheap on every backend (and never computes weight gradients). */
import * as tf from '@tensorflow/tfjs-core';

/** Explicit or keyword padding as tfjs conv ops take it. */
export type ConvPadding = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** A 2-D convolution (NHWC) differentiable with respect to `x` only. */
export function conv2dInputGradFriendly(
  x: tf.Tensor4D, kernel: tf.Tensor4D, strides: [number, number], pad: ConvPadding, dilations: [number, number],
): tf.Tensor4D {
  return tf.conv2d(x, kernel, strides, pad, 'NHWC', dilations);
}

/** A depthwise 2-D convolution (NHWC) differentiable with respect to `x` only. */
export function depthwiseConv2dInputGradFriendly(
  x: tf.Tensor4D, kernel: tf.Tensor4D, strides: [number, number], pad: ConvPadding, dilations: [number, number],
): tf.Tensor4D {
  return tf.depthwiseConv2d(x, kernel, strides, pad, 'NHWC', dilations);
}
