/** SmoothGrad (Smilkov et al. 2017), its squared variant, and VarGrad (Adebayo et al. 2018). */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import type { LoadedModel } from '../model';
import { runGradientJob } from './chunkRunner';
import { jobInput, type GradientJob } from './gradientJob';
import type { MethodContext } from './index';
import { batchOption, intOption } from './sampling';

/** Re-exported: the other methods read their integer options with it. */
export { intOption };

/** Default number of noisy samples. */
export const DEFAULT_SAMPLES = 25;
/** Default noise σ as a fraction of the input's value range. */
export const DEFAULT_NOISE = 0.15;

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
  const range = tf.tidy(() => tf.sub(tf.max(x), tf.min(x)).dataSync()[0]);
  const job: GradientJob = {
    kind: 'noise', sigma: noise * (range > 0 ? range : 1), seed: o.seed ?? 0, timesInput: o.smoothBase === 'gradient-x-input',
    ...jobInput(x, targets[0], samples, o.smoothBase === 'guided', variance || o.squared === true),
  };
  const [total, totalSq] = await runGradientJob(model, job, batch, ctx, variance ? 'VarGrad sample' : 'SmoothGrad sample');
  const result = tf.tidy(() => {
    const mean = tf.div(total, samples);
    if (!job.squares) return mean as tf.Tensor4D;
    const meanSq = tf.div(totalSq, samples);
    if (variance) return tf.relu(tf.sub(meanSq, tf.square(mean))) as tf.Tensor4D;
    return meanSq as tf.Tensor4D;
  });
  total.dispose();
  totalSq?.dispose();
  return result;
}
