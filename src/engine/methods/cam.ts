/**
 * Class activation maps on any layer: Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ (Chattopadhay et al. 2018),
 * HiResCAM (Draelos & Carin 2020), LayerCAM (Jiang et al. 2021), Score-CAM (Wang et al. 2020), and Guided
 * Grad-CAM. Gradients with respect to a layer are taken by feeding the layer's activations back into the
 * executor, so skip connections from earlier layers (residual, dense, inverted-residual blocks) stay intact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import type { MethodName } from '../../shared/protocol';
import type { LoadedModel } from '../model';
import { guidedGradient } from './gradients';
import type { MethodContext } from './index';
import { DEFAULT_BATCH, inBatches } from './sampling';
import { intOption } from './smoothgrad';

/** The last layer (in topological order) with a spatial output on which the scores depend. */
export function defaultCamLayer(model: LoadedModel): string {
  const spatial = model.layers().filter((l) => l.spatial);
  const ancestors = model.ancestorsOfLogits();
  const candidates = spatial.filter((l) => ancestors.has(l.name));
  if (!candidates.length) throw new BadInputError(model.path, 'no layer with a spatial output: CAM methods need a convolutional layer');
  return candidates[candidates.length - 1].name;
}

function checkLayer(model: LoadedModel, layer: string): void {
  const info = model.layers().find((l) => l.name === layer);
  if (!info) throw new BadInputError('--layer', `no layer named "${layer}" in ${model.path} (list them with: saliency-lens layers --model ${model.path})`);
  if (!info.spatial) throw new BadInputError('--layer', `layer "${layer}" has no spatial output (shape [${info.outputShape?.join(', ')}])`);
  if (!model.ancestorsOfLogits().has(layer)) throw new BadInputError('--layer', `the model's scores do not depend on layer "${layer}"`);
}

/** Activations A [1,h,w,K] at a layer and the gradient G = ∂score/∂A. */
export function layerActivationsAndGradient(model: LoadedModel, x: tf.Tensor4D, target: number, layer: string): { A: tf.Tensor4D; G: tf.Tensor4D } {
  return tf.tidy(() => {
    const A = model.executor.run(x, { output: layer }).output as tf.Tensor4D;
    const selector = tf.oneHot(tf.tensor1d([target], 'int32'), model.numClasses);
    const score = (a: tf.Tensor4D): tf.Scalar => tf.sum(tf.mul(model.logits(x, { feeds: new Map([[layer, a]]) }), selector));
    const G = tf.grad(score as (v: tf.Tensor) => tf.Tensor)(A) as tf.Tensor4D;
    return { A, G };
  });
}

/** The gradient-weighted CAMs: a raw [1,h,w,1] map, ReLU applied, before normalisation or upsampling. */
export function gradientCam(method: MethodName, A: tf.Tensor4D, G: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    let weighted: tf.Tensor;
    switch (method) {
      case 'gradcam':
        weighted = tf.mul(A, tf.mean(G, [1, 2], true));
        break;
      case 'gradcam-plus-plus': {
        const g2 = tf.square(G);
        const g3 = tf.mul(g2, G);
        const sumA = tf.sum(A, [1, 2], true);
        const denominator = tf.add(tf.mul(g2, 2), tf.mul(sumA, g3));
        const safe = tf.where(tf.notEqual(denominator, 0), denominator, tf.onesLike(denominator));
        const alpha = tf.where(tf.notEqual(denominator, 0), tf.div(g2, safe), tf.zerosLike(g2));
        weighted = tf.mul(A, tf.sum(tf.mul(alpha, tf.relu(G)), [1, 2], true));
        break;
      }
      case 'hirescam':
        weighted = tf.mul(A, G);
        break;
      case 'layercam':
        weighted = tf.mul(A, tf.relu(G));
        break;
      default:
        throw new Error(`not a gradient CAM: ${method}`);
    }
    return tf.relu(tf.sum(weighted, 3, true)) as tf.Tensor4D;
  });
}

function minMaxNormalize(maps: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const lo = tf.min(maps, [1, 2, 3], true);
    const hi = tf.max(maps, [1, 2, 3], true);
    const range = tf.sub(hi, lo);
    const safe = tf.where(tf.greater(range, 0), range, tf.onesLike(range));
    return tf.where(tf.greater(range, 0), tf.div(tf.sub(maps, lo), safe), tf.zerosLike(maps)) as tf.Tensor4D;
  });
}

/** Score-CAM: each channel, upsampled and min–max normalised, masks the input; the target logits, softmaxed over channels, weight the channels. */
async function scoreCam(model: LoadedModel, x: tf.Tensor4D, target: number, A: tf.Tensor4D, ctx: MethodContext): Promise<tf.Tensor4D> {
  const [, h, w, k] = A.shape;
  const [, H, W] = x.shape;
  const batch = intOption(ctx.options?.batch, '--batch', 1, 1024, DEFAULT_BATCH);
  const scores = new Float32Array(k);
  const channels = tf.tidy(() => tf.transpose(A, [3, 1, 2, 0]) as tf.Tensor4D);
  try {
    await inBatches(k, batch, ctx, 'Score-CAM channel', (start, n) => {
      const s = tf.tidy(() => {
        const maps = tf.slice(channels, [start, 0, 0, 0], [n, h, w, 1]);
        const masks = minMaxNormalize(tf.image.resizeBilinear(maps, [H, W], false, true));
        return model.logits(tf.mul(x, masks) as tf.Tensor4D, { release: true }).dataSync();
      });
      for (let i = 0; i < n; i++) scores[start + i] = s[i * model.numClasses + target];
    });
  } finally {
    channels.dispose();
  }
  return tf.tidy(() => {
    const weights = tf.reshape(tf.softmax(tf.tensor1d(scores)), [1, 1, 1, k]);
    return tf.relu(tf.sum(tf.mul(A, weights), 3, true)) as tf.Tensor4D;
  });
}

/** What a CAM method returns: the raw map at layer resolution and the layer used. */
export interface CamOutput {
  cam: tf.Tensor4D;
  layer: string;
}

/** Runs a CAM method (raw map [1,h,w,1]). */
export async function classActivationMap(method: MethodName, model: LoadedModel, x: tf.Tensor4D, targets: number[], ctx: MethodContext): Promise<CamOutput> {
  if (x.shape[0] !== 1) throw new Error('multi-pass methods explain one image at a time');
  const layer = ctx.options?.layer ?? defaultCamLayer(model);
  checkLayer(model, layer);
  const { A, G } = layerActivationsAndGradient(model, x, targets[0], layer);
  try {
    const cam = method === 'scorecam' ? await scoreCam(model, x, targets[0], A, ctx) : gradientCam(method, A, G);
    return { cam, layer };
  } finally {
    A.dispose();
    G.dispose();
  }
}

/** Guided Grad-CAM: guided backprop multiplied by the Grad-CAM map upsampled to the input and scaled to [0,1]. */
export async function guidedGradCam(model: LoadedModel, x: tf.Tensor4D, targets: number[], ctx: MethodContext): Promise<CamOutput & { attribution: tf.Tensor4D }> {
  const { cam, layer } = await classActivationMap('gradcam', model, x, targets, ctx);
  const guided = guidedGradient(model, x, targets);
  const attribution = tf.tidy(() => {
    const [, H, W] = x.shape;
    const up = tf.image.resizeBilinear(cam, [H, W], false, true);
    const peak = tf.max(up);
    const scaled = tf.where(tf.greater(peak, 0), tf.div(up, tf.maximum(peak, 1e-30)), tf.zerosLike(up));
    return tf.mul(guided, scaled) as tf.Tensor4D;
  });
  guided.dispose();
  return { cam, layer, attribution };
}
