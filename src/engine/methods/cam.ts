/**
 * Class activation maps on any layer: Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ (Chattopadhay et al. 2018),
 * HiResCAM (Draelos & Carin 2020), LayerCAM (Jiang et al. 2021), Score-CAM (Wang et al. 2020), and Guided
 * Grad-CAM. Gradients with respect to a layer are taken by feeding the layer's activations back into the
 * executor, together with the outputs of earlier nodes that skip around it (residual, dense, inverted-residual
 * blocks), so only the graph's tail runs; the fed tensors can be kept between requests (MethodContext.activations).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import type { MethodName } from '../../shared/protocol';
import type { LoadedModel } from '../model';
import { guidedGradient } from './gradients';
import type { MethodContext } from './index';
import { runGradientJob } from './chunkRunner';
import { jobInput, type GradientJob } from './gradientJob';
import { DEFAULT_BATCH, batchOption } from './sampling';

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

/** The CAM layer of a request: the option, else the default; validated. */
export function camLayer(model: LoadedModel, options: MethodContext['options'] = {}): string {
  const layer = options.layer ?? defaultCamLayer(model);
  checkLayer(model, layer);
  return layer;
}

const feedsByModel = new WeakMap<LoadedModel, Map<string, string[]>>();

/**
 * What to feed to run the graph's tail from `layer`: the layer itself, then the outputs of nodes that do not
 * depend on it but are read by nodes that do (skip connections around it). Fed all of these, a run computes
 * only the layer's descendants, and the gradient with respect to the layer is the same as from the input.
 */
export function camFeeds(model: LoadedModel, layer: string): string[] {
  let perLayer = feedsByModel.get(model);
  if (!perLayer) feedsByModel.set(model, (perLayer = new Map()));
  let names = perLayer.get(layer);
  if (!names) {
    const ancestors = model.ancestorsOfLogits();
    const tail = new Set([layer]);
    const frontier = new Set<string>();
    for (const node of model.graph.nodes) {
      if (tail.has(node.name) || !ancestors.has(node.name) || !node.inputs.some((i) => tail.has(i))) continue;
      tail.add(node.name);
    }
    for (const node of model.graph.nodes) {
      if (node.name === layer || !tail.has(node.name)) continue;
      for (const i of node.inputs) {
        if (!tail.has(i) && i !== model.graph.input.name && model.executor.node(i)?.op !== 'const') frontier.add(i);
      }
    }
    names = [layer, ...frontier];
    perLayer.set(layer, names);
  }
  return names;
}

/** One forward pass that yields the logits and the tensors `camFeeds` names for `layer` (caller-owned). */
export function logitsAndLayerFeeds(model: LoadedModel, x: tf.Tensor4D, layer: string): { logits: Float32Array; feeds: Map<string, tf.Tensor> } {
  const feeds = new Map<string, tf.Tensor>();
  const logits = tf.tidy(() => {
    const { output, taps } = model.executor.run(x, { output: model.logitsNode, taps: camFeeds(model, layer), release: true });
    for (const [name, t] of taps) feeds.set(name, tf.keep(t));
    return Float32Array.from(output.dataSync());
  });
  return { logits, feeds };
}

/** The `camFeeds` tensors of `layer` for x (caller-owned): from the context's store, else computed and stored. */
function layerFeeds(model: LoadedModel, x: tf.Tensor4D, layer: string, ctx: MethodContext): Map<string, tf.Tensor> {
  const cached = ctx.activations?.get(layer);
  if (cached) return cached;
  const [, ...others] = camFeeds(model, layer);
  const feeds = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    const { output, taps } = model.executor.run(x, { output: layer, taps: others, release: true });
    for (const [name, t] of [[layer, output] as const, ...taps]) feeds.set(name, tf.keep(t));
  });
  ctx.activations?.put(layer, feeds);
  return feeds;
}

/** The gradient G = ∂score/∂A of the target score with respect to the layer's activations A = feeds[layer]. */
export function layerGradient(model: LoadedModel, x: tf.Tensor4D, target: number, layer: string, feeds: Map<string, tf.Tensor>): tf.Tensor4D {
  return tf.tidy(() => {
    const selector = tf.oneHot(tf.tensor1d([target], 'int32'), model.numClasses);
    const score = (a: tf.Tensor4D): tf.Scalar => tf.sum(tf.mul(model.logits(x, { feeds: new Map([...feeds, [layer, a]]) }), selector));
    return tf.grad(score as (v: tf.Tensor) => tf.Tensor)(feeds.get(layer)!) as tf.Tensor4D;
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

/** Score-CAM: each channel, upsampled and min–max normalised, masks the input; the target logits, softmaxed over channels, weight the channels. */
async function scoreCam(model: LoadedModel, x: tf.Tensor4D, target: number, A: tf.Tensor4D, ctx: MethodContext): Promise<tf.Tensor4D> {
  const k = A.shape[3];
  // Forward passes only: automatic batches of up to 16 sized from the measured memory, as occlusion's.
  const batch = batchOption(ctx, model, 'forward', DEFAULT_BATCH);
  const job: GradientJob = {
    kind: 'scorecam', activations: A.dataSync() as Float32Array, activationShape: A.shape, ...jobInput(x, target, k),
  };
  const [scoreTensor] = await runGradientJob(model, job, batch, ctx, 'Score-CAM channel');
  const scores = scoreTensor.dataSync() as Float32Array;
  scoreTensor.dispose();
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
  const layer = camLayer(model, ctx.options);
  const feeds = layerFeeds(model, x, layer, ctx);
  try {
    const A = feeds.get(layer) as tf.Tensor4D;
    // Score-CAM weighs channels by forward passes only: no gradient.
    if (method === 'scorecam') return { cam: await scoreCam(model, x, targets[0], A, ctx), layer };
    const G = layerGradient(model, x, targets[0], layer, feeds);
    try {
      return { cam: gradientCam(method, A, G), layer };
    } finally {
      G.dispose();
    }
  } finally {
    for (const t of feeds.values()) t.dispose();
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
