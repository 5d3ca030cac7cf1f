/** Computes every faithfulness metric of a map (the `metrics` of an explain result). */
import type * as tf from '@tensorflow/tfjs-core';
import type { FaithfulnessMetrics, MethodName } from '../../shared/protocol';
import type { LoadedModel } from '../model';
import { runMethod, type MethodContext } from './index';
import { deletionInsertion, importanceAtInput, randomizationCheck } from './metrics';

/** Deletion/insertion curves of the map and the cascading randomisation check of the method. */
export async function faithfulness(model: LoadedModel, x: tf.Tensor4D, target: number, method: MethodName,
  attribution: tf.Tensor4D, ctx: MethodContext): Promise<FaithfulnessMetrics> {
  const [, H, W] = x.shape;
  const importance = importanceAtInput(attribution, H, W);
  const curves = await deletionInsertion(model, x, importance, target, ctx);
  ctx.onProgress?.(0.2, 'randomisation check');
  // The nested runs report no progress of their own: the check reports per layer.
  const quiet: MethodContext = { ...ctx, onProgress: undefined };
  const randomization = await randomizationCheck(model, importance, async () => {
    const out = await runMethod(method, model, x, [target], quiet);
    const map = importanceAtInput(out.attribution, H, W);
    out.attribution.dispose();
    return map;
  }, { ...ctx, onProgress: (f, m) => ctx.onProgress?.(0.2 + 0.8 * f, m) });
  return { ...curves, randomization };
}
