/** Dispatches an attribution method by name. */
import type * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import { METHODS, type FaithfulnessMetrics, type MethodName, type MethodOptions } from '../../shared/protocol';
import type { LoadedModel } from '../model';
import type { GradientHelpers } from './chunkRunner';
import { camLayer, classActivationMap, guidedGradCam } from './cam';
import { gradientTimesInput, guidedGradient, inputGradientAndLogits, vanillaGradient } from './gradients';
import { guidedBackpropHook } from './guided';
import { integratedGradients } from './integratedGradients';
import { occlusion } from './occlusion';
import { smoothGradient } from './smoothgrad';

/** Per-request context of a method: options, preprocessing knowledge, progress and cancellation. */
export interface MethodContext {
  options?: MethodOptions;
  /** The preprocessed per-channel value of a grey level 0–255 (for black/white/noise baselines). */
  pixelToInput?: (level: number) => Float32Array;
  onProgress?: (fraction: number, message: string) => void;
  /** Throws CancelledError when the request was cancelled; awaited between passes. */
  checkpoint?: () => Promise<void>;
  /** Activations at CAM layers kept between requests on the same model and input (the Engine's ForwardCache). */
  activations?: ActivationStore;
  /** Helper threads for the passes of SmoothGrad, VarGrad and Integrated Gradients (none: the engine's thread alone). */
  helpers?: GradientHelpers;
}

/**
 * Per layer, the tensors a CAM method feeds to run the graph's tail from that layer (see cam.ts camFeeds).
 * `get` returns clones the caller disposes; `put` keeps its own clones.
 */
export interface ActivationStore {
  has(layer: string): boolean;
  get(layer: string): Map<string, tf.Tensor> | undefined;
  put(layer: string, tensors: Map<string, tf.Tensor>): void;
}

/** What a method returns: an NHWC attribution ([1,h,w,1] at layer resolution for CAM methods). */
export interface MethodOutput {
  attribution: tf.Tensor4D;
  signed: boolean;
  /** The layer of a CAM method. */
  layer?: string;
  completeness?: FaithfulnessMetrics['completeness'];
}

type MethodImpl = (model: LoadedModel, x: tf.Tensor4D, targets: number[], ctx: MethodContext) => Promise<MethodOutput>;

const cam = (method: MethodName): MethodImpl => async (m, x, t, ctx) => {
  const { cam: map, layer } = await classActivationMap(method, m, x, t, ctx);
  return { attribution: map, signed: false, layer };
};

const IMPLS: Record<MethodName, MethodImpl> = {
  vanilla: async (m, x, t) => ({ attribution: vanillaGradient(m, x, t), signed: true }),
  guided: async (m, x, t) => ({ attribution: guidedGradient(m, x, t), signed: true }),
  'gradient-x-input': async (m, x, t) => ({ attribution: gradientTimesInput(m, x, t), signed: true }),
  smoothgrad: async (m, x, t, ctx) => ({
    attribution: await smoothGradient(m, x, t, ctx, false),
    signed: !ctx.options?.squared && ctx.options?.smoothBase !== 'guided',
  }),
  vargrad: async (m, x, t, ctx) => ({ attribution: await smoothGradient(m, x, t, ctx, true), signed: false }),
  'integrated-gradients': async (m, x, t, ctx) => {
    const { attribution, completeness } = await integratedGradients(m, x, t, ctx);
    return { attribution, signed: true, completeness };
  },
  gradcam: cam('gradcam'),
  'gradcam-plus-plus': cam('gradcam-plus-plus'),
  hirescam: cam('hirescam'),
  layercam: cam('layercam'),
  scorecam: cam('scorecam'),
  'guided-gradcam': async (m, x, t, ctx) => {
    const { cam: map, layer, attribution } = await guidedGradCam(m, x, t, ctx);
    map.dispose();
    return { attribution, signed: true, layer };
  },
  occlusion: async (m, x, t, ctx) => ({ attribution: await occlusion(m, x, t, ctx), signed: true }),
};

/** Parses a method name from an option. */
export function parseMethod(value: string, subject = '--method'): MethodName {
  if ((METHODS as readonly string[]).includes(value)) return value as MethodName;
  throw new BadInputError(subject, `unknown method "${value}" (available: ${METHODS.join(', ')})`);
}

/** The layer whose activations a method reuses (CAM methods), validated; undefined for other methods. */
export function activationLayer(method: MethodName, model: LoadedModel, options: MethodOptions = {}): string | undefined {
  return CAM_METHODS.has(method) ? camLayer(model, options) : undefined;
}

const CAM_METHODS = new Set<MethodName>(['gradcam', 'gradcam-plus-plus', 'hirescam', 'layercam', 'scorecam', 'guided-gradcam']);

const ONE_PASS = new Set<MethodName>(['vanilla', 'guided', 'gradient-x-input']);

/** Whether runWithLogits runs this method. */
export function runsWithLogits(method: MethodName): boolean {
  return ONE_PASS.has(method);
}

/**
 * For the methods that are one forward and one backward pass (vanilla, guided, gradient × input) the forward
 * values are the model's logits, so the target can be chosen from them in the same pass. Runs the method on
 * one image with the target `choose` picks from the logits; undefined for any other method.
 */
export function runWithLogits(method: MethodName, model: LoadedModel, x: tf.Tensor4D, choose: (logits: Float32Array) => number):
  { output: MethodOutput; logits: Float32Array; target: number } | undefined {
  if (!ONE_PASS.has(method)) return undefined;
  const r = inputGradientAndLogits(model, x, choose, method === 'guided' ? guidedBackpropHook : undefined, method === 'gradient-x-input');
  return { output: { attribution: r.gradient, signed: true }, logits: r.logits, target: r.target };
}

/** Runs a method on an NHWC batch for the given target classes. */
export async function runMethod(method: MethodName, model: LoadedModel, x: tf.Tensor4D, targets: number[],
  ctx: MethodContext = {}): Promise<MethodOutput> {
  const impl = IMPLS[method];
  if (!impl) throw new BadInputError('--method', `unknown method "${method}" (available: ${METHODS.join(', ')})`);
  return impl(model, x, targets, ctx);
}
