/** Keras activation names and activation layers mapped to internal ops. */
import type { AttrValue, OpType } from '../graph/ir';

/** An internal activation: op plus attributes. */
export interface ActivationOp {
  op: OpType;
  attrs: Record<string, AttrValue>;
}

/** Which Keras generation wrote the model, where activations differ between them. */
export interface KerasFlavour {
  /** Keras 3 defines hard_sigmoid as relu6(x+3)/6; Keras 2 and tfjs-layers as clip(0.2x+0.5, 0, 1). */
  keras3: boolean;
  /** tfjs-layers and Keras before 2.3 resize bilinearly without half-pixel centres (TF1 resize_bilinear). */
  legacyResize: boolean;
}

/**
 * Maps a Keras `activation` value (a name, or a {class_name} object) to an op. Returns null for linear,
 * undefined for a name we do not know.
 */
export function kerasActivation(value: unknown, flavour: KerasFlavour): ActivationOp | null | undefined {
  let name: unknown = value;
  if (typeof value === 'object' && value !== null && 'class_name' in value) name = (value as { class_name: unknown }).class_name;
  if (name === null || name === undefined) return null;
  if (typeof name !== 'string') return undefined;
  const key = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  switch (key) {
    case 'linear':
    case 'identity':
      return null;
    case 'relu':
      return { op: 'relu', attrs: {} };
    case 'relu6':
      return { op: 'relu6', attrs: {} };
    case 'elu':
      return { op: 'elu', attrs: { alpha: 1 } };
    case 'selu':
      return { op: 'selu', attrs: {} };
    case 'sigmoid':
      return { op: 'sigmoid', attrs: {} };
    case 'hard_sigmoid':
      return { op: 'hardSigmoid', attrs: flavour.keras3 ? { alpha: 1 / 6, beta: 0.5 } : { alpha: 0.2, beta: 0.5 } };
    case 'tanh':
      return { op: 'tanh', attrs: {} };
    case 'softmax':
      return { op: 'softmax', attrs: { axis: -1 } };
    case 'log_softmax':
      return { op: 'logSoftmax', attrs: { axis: -1 } };
    case 'swish':
    case 'silu':
      return { op: 'swish', attrs: {} };
    case 'hard_swish':
    case 'hard_silu':
      return { op: 'hardSwish', attrs: {} };
    case 'gelu':
      return { op: 'gelu', attrs: {} };
    case 'softplus':
      return { op: 'softplus', attrs: {} };
    case 'exponential':
      return { op: 'exp', attrs: {} };
    case 'leaky_relu':
      return { op: 'leakyRelu', attrs: { alpha: 0.2 } };
    default:
      return undefined;
  }
}

const numberOr = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

/**
 * The op of a Keras `ReLU` layer: plain, capped (relu6 / clip) or leaky. A non-zero threshold, or a leaky
 * slope together with a cap, has no single internal op: undefined.
 */
export function reluLayerOp(config: Record<string, unknown>): ActivationOp | undefined {
  const maxValue = config.max_value ?? null;
  const slope = numberOr(config.negative_slope, 0);
  const threshold = numberOr(config.threshold, 0);
  if (threshold !== 0) return undefined;
  if (maxValue !== null && typeof maxValue !== 'number') return undefined;
  if (slope !== 0) return maxValue === null ? { op: 'leakyRelu', attrs: { alpha: slope } } : undefined;
  if (maxValue === null) return { op: 'relu', attrs: {} };
  if (maxValue === 6) return { op: 'relu6', attrs: {} };
  return { op: 'clip', attrs: { min: 0, max: maxValue } };
}
