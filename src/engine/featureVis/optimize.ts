/**
 * The optimisation loop of feature visualisation: gradient ascent on an objective through a parameterisation,
 * random transforms and the model's preprocessing, with L2 / total-variation penalties, and Adam or
 * FlashTorch's RMS-normalised step. Every step's tensors are freed before the next one.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../model';
import { redirectedReluHook } from './redirect';
import { objectiveValues, type ObjectiveSpec } from './objective';
import type { ImageParam, ParamInit } from './param';
import { applyTransforms, randomAffines, type TransformSettings } from './transforms';

/** Settings of one optimisation run. */
export interface OptimizeSettings {
  steps: number;
  optimizer: 'adam' | 'rms';
  lr: number;
  /** Weight of mean((image − centre)²) per image (centre 0.5 for RGB, 0 for a model input). */
  l2: number;
  /** Weight of the mean absolute difference of neighbouring pixels per image. */
  tv: number;
  /** Random transforms each step, or null. Only for parameterisations that render RGB. */
  transforms: TransformSettings | null;
  /** Minimise instead of maximise. */
  negative: boolean;
  /** Call onImages every this many steps (0 = never). */
  imageEvery: number;
  /** Channel/neuron objectives: weight of the mean of the other channels subtracted while optimising. */
  contrast: number;
  /** Redirect ReLU gradients of images whose gradient is entirely blocked (see redirect.ts). */
  redirect: boolean;
}

/** Hooks of a run: progress within the run, cancellation, intermediate images. */
export interface OptimizeHooks {
  onProgress?: (fraction: number, message: string) => void;
  /** Awaited after every step; throws to cancel. */
  checkpoint?: () => Promise<void>;
  /** Receives the current rendered images (valid only during the call) and their objective values. */
  onImages?: (step: number, rendered: tf.Tensor4D, values: Float32Array) => Promise<void> | void;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPS = 1e-8;
/** FlashTorch's guard against dividing by a zero RMS. */
const RMS_EPS = 1e-5;

/** Per-image penalties [N] of a rendered batch. */
function penalties(img: tf.Tensor4D, centre: number, l2: number, tv: number): tf.Tensor1D | null {
  if (l2 === 0 && tv === 0) return null;
  const n = img.shape[0];
  const perImage = (t: tf.Tensor) => tf.mean(tf.reshape(t, [n, -1]), 1);
  let total: tf.Tensor = tf.zeros([n]);
  if (l2 !== 0) total = tf.add(total, tf.mul(l2, perImage(tf.square(tf.sub(img, centre)))));
  if (tv !== 0) {
    const [, h, w, c] = img.shape;
    const dy = tf.sub(tf.slice(img, [0, 1, 0, 0], [n, h - 1, w, c]), tf.slice(img, [0, 0, 0, 0], [n, h - 1, w, c]));
    const dx = tf.sub(tf.slice(img, [0, 0, 1, 0], [n, h, w - 1, c]), tf.slice(img, [0, 0, 0, 0], [n, h, w - 1, c]));
    total = tf.add(total, tf.mul(tv, tf.add(perImage(tf.abs(dy)), perImage(tf.abs(dx)))));
  }
  return total as tf.Tensor1D;
}

/**
 * One ascent step on a variable: Adam (Kingma & Ba 2015, bias-corrected moments m and v), or FlashTorch's
 * gradient / (RMS(gradient) + 1e-5) × lr per image. Returns the new variable (projected) and moments.
 */
function update(x: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, step: number, settings: OptimizeSettings,
  param: ImageParam): { x: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  let delta: tf.Tensor;
  if (settings.optimizer === 'adam') {
    m = tf.add(tf.mul(m, BETA1), tf.mul(g, 1 - BETA1));
    v = tf.add(tf.mul(v, BETA2), tf.mul(tf.square(g), 1 - BETA2));
    const rate = (settings.lr * Math.sqrt(1 - BETA2 ** step)) / (1 - BETA1 ** step);
    delta = tf.mul(tf.div(m, tf.add(tf.sqrt(v), ADAM_EPS)), rate);
  } else {
    const axes = Array.from({ length: g.rank - 1 }, (_, k) => k + 1);
    delta = tf.mul(tf.div(g, tf.add(tf.sqrt(tf.mean(tf.square(g), axes, true)), RMS_EPS)), settings.lr);
  }
  const moved = tf.add(x, delta);
  return { x: param.project ? param.project(moved) : moved, m, v };
}

/** The model input for rendered images: RGB goes through `toInput` (the preprocessing), an input stays. */
export type ToInput = (rendered: tf.Tensor4D) => tf.Tensor4D;

/** The objective values [N] of the parameterisation's current images, without transforms. */
export function currentValues(model: LoadedModel, spec: ObjectiveSpec, param: ImageParam, vars: tf.Tensor[], toInput: ToInput): Float32Array {
  return tf.tidy(() => {
    const rendered = param.render(vars);
    return objectiveValues(model, param.space === 'rgb' ? toInput(rendered) : rendered, spec).dataSync() as Float32Array;
  });
}

/**
 * Optimises the variables of `init` (consumed) for `settings.steps` steps and returns the final variables
 * (owned by the caller). Random transforms come from `rand`. On a thrown cancel nothing leaks.
 */
export async function optimize(model: LoadedModel, spec: ObjectiveSpec, init: ParamInit, toInput: ToInput,
  settings: OptimizeSettings, rand: () => number, hooks: OptimizeHooks = {}): Promise<tf.Tensor[]> {
  const { param } = init;
  let vars = init.vars;
  let m = vars.map((v) => tf.zerosLike(v));
  let v2 = vars.map((v) => tf.zerosLike(v));
  const sign = settings.negative ? -1 : 1;
  const centre = param.space === 'rgb' ? 0.5 : 0;
  try {
    for (let step = 1; step <= settings.steps; step++) {
      const n = vars[0].shape[0];
      const maps = settings.transforms && param.space === 'rgb' ? randomAffines(n, settings.transforms, rand) : null;
      const f = (...xs: tf.Tensor[]): tf.Scalar => {
        const img = param.render(xs);
        const [, h, w] = img.shape;
        const seen = maps ? applyTransforms(img, maps, settings.transforms!, h, w) : img;
        const input = param.space === 'rgb' ? toInput(seen) : seen;
        let perImage: tf.Tensor = tf.mul(objectiveValues(model, input, { ...spec, contrast: settings.negative ? 0 : settings.contrast }, settings.redirect ? redirectedReluHook : undefined), sign);
        const penalty = penalties(img, centre, settings.l2, settings.tv);
        if (penalty) perImage = tf.sub(perImage, penalty);
        return tf.sum(perImage) as tf.Scalar;
      };
      const grads = tf.grads(f)(vars);
      const next = tf.tidy(() => vars.map((x, i) => update(x, grads[i], m[i], v2[i], step, settings, param)));
      grads.forEach((g) => g.dispose());
      const old = [...vars, ...(settings.optimizer === 'adam' ? [...m, ...v2] : [])];
      vars = next.map((t) => t.x);
      if (settings.optimizer === 'adam') {
        m = next.map((t) => t.m);
        v2 = next.map((t) => t.v);
      }
      old.forEach((t) => t.dispose());
      hooks.onProgress?.(step / settings.steps, `step ${step}/${settings.steps}`);
      if (hooks.onImages && settings.imageEvery > 0 && (step % settings.imageEvery === 0 || step === settings.steps)) {
        const values = currentValues(model, spec, param, vars, toInput);
        const rendered = tf.tidy(() => param.render(vars));
        try {
          await hooks.onImages(step, rendered, values);
        } finally {
          if (!vars.includes(rendered)) rendered.dispose();
        }
      }
      await hooks.checkpoint?.();
    }
    return vars;
  } catch (err) {
    vars.forEach((t) => t.dispose());
    throw err;
  } finally {
    m.forEach((t) => t.dispose());
    v2.forEach((t) => t.dispose());
  }
}
