/**
 * Objectives of feature visualisation (a channel's mean activation, the centre neuron of a channel, a class
 * logit or probability, a whole layer's mean squared activation) and the model's preprocessing as tensor ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError, oneLine } from '../../shared/errors';
import type { FeatureObjective, PreprocessName } from '../../shared/protocol';
import { presetParams } from '../image/preprocess';
import type { ActivationHook } from '../graph/executor';
import type { LoadedModel } from '../model';
import { constMatMul } from './param';

/** What is maximised for each image of a batch. */
export interface ObjectiveSpec {
  /** 'layer': the mean squared activation of the whole layer (DeepDream). */
  kind: FeatureObjective | 'layer';
  /** The node whose output is read (for logit/probability: the model's class scores node). */
  layer: string;
  /** Per image of the batch: the channel or class (unused for 'layer'). */
  indices: number[];
  /** Channel objectives, optimisation only: subtract this times the largest other channel. */
  contrast?: number;
}

/** ITU-R BT.601 luma weights, as preprocessImage uses for one-channel models. */
const LUMA = [0.299, 0.587, 0.114];

/**
 * The model input from RGB in [0, 1] ([N, H, W, 3]) with preprocessImage's semantics (the pixel is rgb·255),
 * as one differentiable matMul plus bias: scale, mean, std, BGR order and luminance for one channel.
 */
export function rgbToInput(rgb: tf.Tensor4D, preset: PreprocessName, channels: number): tf.Tensor4D {
  if (channels !== 1 && channels !== 3) throw new BadInputError('model input', `${channels} channels are not supported (expected 1 or 3)`);
  const { scale, mean, std, bgr } = presetParams(preset, channels);
  const matrix = new Float32Array(3 * channels);
  const bias = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const gain = (255 * scale) / std[c];
    if (channels === 1) for (let k = 0; k < 3; k++) matrix[k] = LUMA[k] * gain;
    else matrix[(bgr ? 2 - c : c) * channels + c] = gain;
    bias[c] = -mean[c] / std[c];
  }
  return tf.tidy(() => {
    const [n, h, w] = rgb.shape;
    const m = tf.tensor2d(matrix, [3, channels]);
    const flat = constMatMul(tf.reshape(rgb, [n * h * w, 3]), m, tf.transpose(m));
    return tf.reshape(tf.add(flat, tf.tensor1d(bias)), [n, h, w, channels]) as tf.Tensor4D;
  });
}

/** One-hot rows [N, size]: row i has a 1 at indices[i]. */
function oneHot(indices: readonly number[], size: number): tf.Tensor2D {
  const data = new Float32Array(indices.length * size);
  indices.forEach((k, i) => {
    data[i * size + k] = 1;
  });
  return tf.tensor2d(data, [indices.length, size]);
}

/**
 * The objective of each image of the batch, [N] (not negated: the caller flips the sign to minimise). Selects
 * channels with one-hot masks, not gather (whose gradient the wasm backend lacks). The hook, if any, is applied
 * at the ReLU-family activations (see redirect.ts).
 */
export function objectiveValues(model: LoadedModel, input: tf.Tensor4D, spec: ObjectiveSpec, activationHook?: ActivationHook): tf.Tensor1D {
  return tf.tidy(() => {
    let perChannel: tf.Tensor;
    if (spec.kind === 'logit' || spec.kind === 'probability') {
      const logits = model.logits(input, { activationHook });
      perChannel = spec.kind === 'probability' ? model.probabilities(logits) : logits;
    } else {
      const act = model.executor.run(input, { output: spec.layer, activationHook }).output;
      const n = act.shape[0];
      const c = act.shape[act.rank - 1];
      if (spec.kind === 'layer') return tf.mean(tf.reshape(tf.square(act), [n, -1]), 1) as tf.Tensor1D;
      if (spec.kind === 'neuron') {
        const [, h, w] = act.shape;
        perChannel = tf.reshape(tf.slice(act, [0, Math.floor(h / 2), Math.floor(w / 2), 0], [n, 1, 1, c]), [n, c]);
      } else {
        perChannel = act.rank > 2 ? tf.mean(tf.reshape(act, [n, -1, c]), 1) : act;
      }
    }
    const c = perChannel.shape[1]!;
    const mask = oneHot(spec.indices, c);
    const own = tf.sum(tf.mul(perChannel, mask), 1);
    if (!spec.contrast || c < 2) return own as tf.Tensor1D;
    // The strongest other channel (the own one pushed out of the max by a large negative offset).
    const others = tf.max(tf.sub(perChannel, tf.mul(mask, 1e9)), 1);
    return tf.sub(own, tf.mul(others, spec.contrast)) as tf.Tensor1D;
  });
}

/** The mean activation of every channel of a layer, [N, C] (for checking which filter an image excites most). */
export function channelMeans(model: LoadedModel, input: tf.Tensor4D, layer: string): tf.Tensor2D {
  return tf.tidy(() => {
    const act = model.executor.run(input, { output: layer, release: true }).output;
    const n = act.shape[0];
    const c = act.shape[act.rank - 1];
    return (act.rank > 2 ? tf.mean(tf.reshape(act, [n, -1, c]), 1) : act) as tf.Tensor2D;
  });
}

/** A resolved objective target: the node to read and how many channels (or classes) it has. */
export interface ResolvedTarget {
  layer: string;
  channels: number;
  /** The node's output shape (NHWC) for one image at the optimised size. */
  shape: number[];
}

/**
 * Checks the layer and the objective at the optimised size by running the model once on a blank image.
 * For logit/probability objectives the layer defaults to the model's class scores.
 */
export function resolveTarget(model: LoadedModel, kind: FeatureObjective | 'layer', layer: string | undefined, h: number, w: number): ResolvedTarget {
  const scores = kind === 'logit' || kind === 'probability';
  if (!scores && !layer) throw new BadInputError('--layer', `the ${kind} objective needs a layer (list them with 'saliency-lens layers')`);
  const name = scores ? model.logitsNode : layer!;
  if (!model.executor.node(name)) throw new BadInputError(name, "no layer or node of this name in the model (list them with 'saliency-lens layers')");
  const shape = tf.tidy(() => {
    const x = tf.zeros([1, h, w, model.channels]);
    try {
      return (scores ? model.logits(x, { release: true }) : model.executor.run(x, { output: name, release: true }).output).shape;
    } catch (err) {
      if (err instanceof BadInputError) throw err;
      throw new BadInputError('--size', `the model does not run up to ${name} on a ${h}×${w} image: ${oneLine(err)}`);
    }
  });
  if (kind === 'neuron' && (shape.length !== 4 || shape[1] < 1)) throw new BadInputError(name, `the neuron objective needs a layer with a spatial output (shape ${JSON.stringify(shape)})`);
  if (shape.length < 2) throw new BadInputError(name, `the layer has no channels (shape ${JSON.stringify(shape)})`);
  return { layer: name, channels: shape[shape.length - 1], shape };
}
