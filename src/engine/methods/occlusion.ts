/** Occlusion (Zeiler & Fergus 2014): the score drop when a sliding patch is set to a baseline value. */
import * as tf from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../model';
import type { MethodContext } from './index';
import { runGradientJob } from './chunkRunner';
import { jobInput, type GradientJob } from './gradientJob';
import { DEFAULT_BATCH, batchOption, intOption } from './sampling';

/** Window start positions covering [0, size) with the last window flush with the edge. */
export function windowStarts(size: number, patch: number, stride: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s + patch <= size; s += stride) starts.push(s);
  if (!starts.length || starts[starts.length - 1] + patch < size) starts.push(Math.max(0, size - patch));
  return starts;
}

/**
 * For every pixel, the mean drop of the target logit over the windows that cover it (as Captum's Occlusion,
 * all channels occluded together). Needs forward passes only, so it works where gradients do not.
 * Returns [1, H, W, 1].
 */
export async function occlusion(model: LoadedModel, x: tf.Tensor4D, targets: number[], ctx: MethodContext): Promise<tf.Tensor4D> {
  if (x.shape[0] !== 1) throw new Error('multi-pass methods explain one image at a time');
  const [, H, W] = x.shape;
  const o = ctx.options ?? {};
  const patch = intOption(o.patch, '--patch', 1, Math.min(H, W), Math.max(4, Math.round(Math.min(H, W) / 7)));
  const stride = intOption(o.stride, '--stride', 1, Math.min(H, W), Math.max(1, Math.floor(patch / 2)));
  // Forward passes keep no tape (a few MB per image), and unlike gradients they still gain from batches
  // beyond 8 (MobileNetV2: 5–7% less time at 16).
  const batch = batchOption(ctx, model, 'forward', DEFAULT_BATCH);
  const value = o.occlusionValue ?? 0;
  const target = targets[0];
  const windows = windowStarts(H, patch, stride).flatMap((y) => windowStarts(W, patch, stride).map((x0): [number, number] => [y, x0]));
  const base = tf.tidy(() => model.logits(x, { release: true }).dataSync()[target]);
  const job: GradientJob = {
    kind: 'occlusion', windows, patch, value, ...jobInput(x, target, windows.length),
  };
  const [scoreTensor] = await runGradientJob(model, job, batch, ctx, 'Occlusion window');
  const scores = scoreTensor.dataSync();
  scoreTensor.dispose();
  const sum = new Float32Array(H * W);
  const count = new Float32Array(H * W);
  windows.forEach(([y0, x0], i) => {
    const drop = base - scores[i];
    for (let y = y0; y < y0 + patch; y++) {
      for (let xx = x0; xx < x0 + patch; xx++) {
        sum[y * W + xx] += drop;
        count[y * W + xx] += 1;
      }
    }
  });
  for (let i = 0; i < sum.length; i++) sum[i] = count[i] ? sum[i] / count[i] : 0;
  return tf.tensor4d(sum, [1, H, W, 1]);
}
