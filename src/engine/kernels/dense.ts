/** A dense layer whose input gradient multiplies by a cached transposed kernel. */
import * as tf from '@tensorflow/tfjs-core';
import { fastGradientsEnabled } from './js_kernel';
import { subKernel } from './kernel_cache';

/**
 * x [N, in] · kernel [in, out], differentiable with respect to x only. The stock gradient is
 * matMul(dy, kernel, transposeB): wasm's transposed-operand matmul is ~10× slower than a plain one,
 * so the transpose is made once per weight and kept in the sub-kernel cache.
 */
export function denseInputGradFriendly(x: tf.Tensor2D, kernel: tf.Tensor2D): tf.Tensor2D {
  if (!fastGradientsEnabled()) return tf.matMul(x, kernel);
  const f = tf.customGrad((xIn, save) => {
    // Saved, not closed over: a kernel made inside the differentiated function is disposed after the forward pass.
    (save as tf.GradSaveFunc)([kernel]);
    return {
      value: tf.matMul(xIn as tf.Tensor2D, kernel),
      gradFunc: (dy, [k]) => tf.matMul(dy as tf.Tensor2D, subKernel(k, 'transposed', () => tf.transpose(k))),
    };
  });
  return f(x) as tf.Tensor2D;
}
