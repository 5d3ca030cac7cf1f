/** SmoothGrad (Smilkov et al. 2017), its squared variant, and VarGrad (Adebayo et al. 2018). */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import type { MethodOptions } from '../../shared/protocol';
import type { LoadedModel } from '../model';
import { inputGradient } from './gradients';
import { guidedBackpropHook } from './guided';
import type { MethodContext } from './index';
import { accumulate, batchOption, gaussianArrays, inBatches, intOption, uniformRandom } from './sampling';

/** Re-exported: the other methods read their integer options with it. */
export { intOption };

/** Default number of noisy samples. */
export const DEFAULT_SAMPLES = 25;
/** Default noise σ as a fraction of the input's value range. */
export const DEFAULT_NOISE = 0.15;

function noisyGradients(model: LoadedModel, x: tf.Tensor4D, target: number, noisy: tf.Tensor4D, base: MethodOptions['smoothBase']): tf.Tensor4D {
  const hook = base === 'guided' ? guidedBackpropHook : undefined;
  const g = inputGradient(model, noisy, [target], hook);
  if (base !== 'gradient-x-input') return g;
  return tf.tidy(() => tf.mul(g, noisy) as tf.Tensor4D);
}

/**
 * Averages a gradient over `samples` copies of the input with Gaussian noise (σ = noise × (max − min) of
 * the input). `variance`: VarGrad (the per-element variance of the gradients); `squared`: mean of squares.
 */
export async function smoothGradient(model: LoadedModel, x: tf.Tensor4D, targets: number[], ctx: MethodContext,
  variance: boolean): Promise<tf.Tensor4D> {
  const o = ctx.options ?? {};
  const samples = intOption(o.samples, '--samples', 1, 10000, DEFAULT_SAMPLES);
  const noise = o.noise ?? DEFAULT_NOISE;
  if (!(noise >= 0 && noise <= 10)) throw new BadInputError('--noise', `must be a number from 0 to 10 (got ${noise})`);
  const batch = batchOption(ctx, model, o.smoothBase === 'guided' ? 'guided' : 'gradient');
  if (x.shape[0] !== 1) throw new Error('smoothGradient explains one image at a time');
  const [, h, w, c] = x.shape;
  const range = tf.tidy(() => tf.sub(tf.max(x), tf.min(x)).dataSync()[0]);
  const sigma = noise * (range > 0 ? range : 1);
  const rand = uniformRandom(o.seed ?? 0);
  let sum: tf.Tensor | null = null;
  let sumSq: tf.Tensor | null = null;
  try {
    await inBatches(samples, batch, ctx, variance ? 'VarGrad sample' : 'SmoothGrad sample', (_start, n) => {
      const noiseValues = gaussianArrays(n, h * w * c, sigma, rand);
      const [s, sq] = tf.tidy(() => {
        const noisy = tf.add(x, tf.tensor4d(noiseValues, [n, h, w, c])) as tf.Tensor4D;
        const g = noisyGradients(model, x, targets[0], noisy, o.smoothBase);
        return [tf.sum(g, 0, true), tf.sum(tf.square(g), 0, true)];
      });
      sum = accumulate(sum, s);
      sumSq = accumulate(sumSq, sq);
    });
  } catch (err) {
    // A cancel between batches must not leak the running sums.
    (sum as tf.Tensor | null)?.dispose();
    (sumSq as tf.Tensor | null)?.dispose();
    throw err;
  }
  const total = sum as unknown as tf.Tensor;
  const totalSq = sumSq as unknown as tf.Tensor;
  const result = tf.tidy(() => {
    const mean = tf.div(total, samples);
    const meanSq = tf.div(totalSq, samples);
    if (variance) return tf.relu(tf.sub(meanSq, tf.square(mean))) as tf.Tensor4D;
    return (o.squared ? meanSq : mean) as tf.Tensor4D;
  });
  total.dispose();
  totalSq.dispose();
  return result;
}
