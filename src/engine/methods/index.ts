/** Dispatches an attribution method by name. */
import type * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import { METHODS, type MethodName } from '../../shared/protocol';
import type { LoadedModel } from '../model';
import { gradientTimesInput, guidedGradient, vanillaGradient } from './gradients';

/** Per-request context of a method: progress and cancellation between passes. */
export interface MethodContext {
  onProgress?: (fraction: number, message: string) => void;
  /** Throws CancelledError when the request was cancelled; awaited between passes. */
  checkpoint?: () => Promise<void>;
}

/** What a method returns: an NHWC attribution of the same shape as the input batch. */
export interface MethodOutput {
  attribution: tf.Tensor4D;
  signed: boolean;
}

type MethodImpl = (model: LoadedModel, x: tf.Tensor4D, targets: number[], ctx: MethodContext) => Promise<MethodOutput>;

const IMPLS: Partial<Record<MethodName, MethodImpl>> = {
  vanilla: async (m, x, t) => ({ attribution: vanillaGradient(m, x, t), signed: true }),
  guided: async (m, x, t) => ({ attribution: guidedGradient(m, x, t), signed: true }),
  'gradient-x-input': async (m, x, t) => ({ attribution: gradientTimesInput(m, x, t), signed: true }),
};

/** Parses a method name from an option. */
export function parseMethod(value: string, subject = '--method'): MethodName {
  if ((METHODS as readonly string[]).includes(value)) return value as MethodName;
  throw new BadInputError(subject, `unknown or not yet available method "${value}" (available: ${METHODS.join(', ')})`);
}

/** Runs a method on an NHWC batch for the given target classes. */
export async function runMethod(method: MethodName, model: LoadedModel, x: tf.Tensor4D, targets: number[],
  ctx: MethodContext = {}): Promise<MethodOutput> {
  const impl = IMPLS[method];
  if (!impl) throw new BadInputError('--method', `method "${method}" is not available yet (available: ${METHODS.join(', ')})`);
  return impl(model, x, targets, ctx);
}
