/**
 * The attribution methods as the panel presents them: labels, one-line descriptions, which parameters each
 * one uses, their defaults and validation. Pure (no `vscode`, no DOM): the host and the webview share it.
 */
import {
  BASELINES, CAM_METHODS, METHODS,
  type BaselineName, type MethodName, type MethodOptions, type SmoothBase,
} from '../shared/protocol';

/** The method parameters the panel can set (occlusionValue stays at the engine's default). */
export type ParamName = 'samples' | 'noise' | 'squared' | 'smoothBase' | 'steps' | 'baseline' | 'integration'
  | 'layer' | 'patch' | 'stride' | 'batch' | 'seed';

/** How the panel presents one method. */
export interface MethodInfo {
  label: string;
  description: string;
  /** The parameters the method reads (seed of Integrated Gradients only with the uniform baseline). */
  params: readonly ParamName[];
}

const SMOOTH: readonly ParamName[] = ['samples', 'noise', 'smoothBase', 'batch', 'seed'];

/** Label, description and parameters of every method. */
export const METHOD_INFO: Readonly<Record<MethodName, MethodInfo>> = {
  vanilla: { label: 'Vanilla gradient', description: 'Gradient of the target score with respect to the pixels (Simonyan et al. 2014).', params: [] },
  guided: { label: 'Guided backprop', description: 'Only positive gradients through positive activations (Springenberg et al. 2015).', params: [] },
  'gradient-x-input': { label: 'Gradient × input', description: 'The gradient multiplied by the input, element by element (Shrikumar et al. 2016).', params: [] },
  smoothgrad: { label: 'SmoothGrad', description: 'The gradient averaged over noisy copies of the image (Smilkov et al. 2017).', params: ['samples', 'noise', 'squared', 'smoothBase', 'batch', 'seed'] },
  vargrad: { label: 'VarGrad', description: 'The variance of the gradient over noisy copies of the image (Adebayo et al. 2018).', params: SMOOTH },
  'integrated-gradients': { label: 'Integrated Gradients', description: 'Gradients integrated along the path from a baseline image to the input (Sundararajan et al. 2017).', params: ['steps', 'baseline', 'integration', 'batch', 'seed'] },
  gradcam: { label: 'Grad-CAM', description: 'A layer’s channels weighted by their mean gradient (Selvaraju et al. 2017).', params: ['layer'] },
  'gradcam-plus-plus': { label: 'Grad-CAM++', description: 'Grad-CAM with higher-order weights for several instances (Chattopadhay et al. 2018).', params: ['layer'] },
  hirescam: { label: 'HiResCAM', description: 'Activations times gradients, element by element, summed over channels (Draelos & Carin 2020).', params: ['layer'] },
  layercam: { label: 'LayerCAM', description: 'Activations weighted by their positive gradients, position by position (Jiang et al. 2021).', params: ['layer'] },
  scorecam: { label: 'Score-CAM', description: 'Channels weighted by the score of the image masked with each (Wang et al. 2020; forward passes only).', params: ['layer', 'batch'] },
  'guided-gradcam': { label: 'Guided Grad-CAM', description: 'Guided backprop multiplied by the upsampled Grad-CAM (Selvaraju et al. 2017).', params: ['layer'] },
  occlusion: { label: 'Occlusion', description: 'The score drop when patches of the image are hidden (Zeiler & Fergus 2014; forward passes only).', params: ['patch', 'stride', 'batch'] },
};

/** The display name of a method. */
export function methodLabel(method: MethodName): string {
  return METHOD_INFO[method]?.label ?? method;
}

/** True for methods with a layer parameter (the CAM family and Guided Grad-CAM). */
export function usesLayer(method: MethodName): boolean {
  return CAM_METHODS.includes(method) || method === 'guided-gradcam';
}

/** Integrated Gradients baselines with a one-line description each. */
export const BASELINE_INFO: Readonly<Record<BaselineName, string>> = {
  zero: 'Zeros in preprocessed space (Captum’s default)',
  black: 'A black image',
  white: 'A white image',
  blur: 'The input, blurred (σ = 5 px at 224)',
  uniform: 'Uniform noise (seeded)',
};

/** The gradients SmoothGrad/VarGrad can average, with labels. */
export const SMOOTH_BASES: readonly { value: SmoothBase; label: string }[] = [
  { value: 'vanilla', label: 'Vanilla gradient' },
  { value: 'guided', label: 'Guided backprop' },
  { value: 'gradient-x-input', label: 'Gradient × input' },
];

/** The engine's defaults of the parameters that have a fixed one (layer, patch and stride depend on the model). */
export const PARAM_DEFAULTS = {
  samples: 25, noise: 0.15, squared: false, smoothBase: 'vanilla' as SmoothBase, steps: 50,
  baseline: 'zero' as BaselineName, integration: 'trapezoid' as const, batch: 0, seed: 0,
} as const;

/** Valid ranges of the numeric parameters (as the engine checks them). */
export const PARAM_LIMITS = {
  samples: { min: 1, max: 10000 },
  noise: { min: 0, max: 10 },
  steps: { min: 2, max: 10000 },
  patch: { min: 1, max: 4096 },
  stride: { min: 1, max: 4096 },
  batch: { min: 1, max: 1024 },
  seed: { min: 0, max: 2 ** 31 - 1 },
} as const;

/** A numeric parameter. */
export type NumericParam = keyof typeof PARAM_LIMITS;

/** Clamps a numeric parameter into its range (integers rounded); undefined when not a finite number. */
export function clampParam(name: NumericParam, value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const { min, max } = PARAM_LIMITS[name];
  const v = name === 'noise' ? value : Math.round(value);
  return Math.min(max, Math.max(min, v));
}

/** The automatic occlusion patch and stride for an input side (as the engine computes them). */
export function autoPatch(side: number): { patch: number; stride: number } {
  const patch = Math.max(4, Math.round(side / 7));
  return { patch, stride: Math.max(1, Math.floor(patch / 2)) };
}

/**
 * Validates method options from an untrusted source (settings, saved webview state, a message): fields with
 * a wrong type are dropped, numbers clamped; 0 or '' for patch, stride, batch and layer mean "automatic".
 */
export function sanitizeOptions(value: unknown): MethodOptions {
  const o = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const out: MethodOptions = {};
  for (const name of Object.keys(PARAM_LIMITS) as NumericParam[]) {
    if ((name === 'patch' || name === 'stride' || name === 'batch') && o[name] === 0) continue;
    const v = clampParam(name, o[name]);
    if (v !== undefined) out[name] = v;
  }
  if (typeof o.squared === 'boolean') out.squared = o.squared;
  if (typeof o.metrics === 'boolean') out.metrics = o.metrics;
  if (SMOOTH_BASES.some((b) => b.value === o.smoothBase)) out.smoothBase = o.smoothBase as SmoothBase;
  if ((BASELINES as readonly unknown[]).includes(o.baseline)) out.baseline = o.baseline as BaselineName;
  if (o.integration === 'trapezoid' || o.integration === 'gauss-legendre') out.integration = o.integration;
  if (typeof o.layer === 'string' && o.layer.trim() && o.layer.trim() !== 'auto') out.layer = o.layer.trim();
  return out;
}

/** The parameters that matter for the methods on screen (batch and seed also for the faithfulness checks). */
export function relevantParams(methods: readonly MethodName[], options: MethodOptions): Set<ParamName> {
  const out = new Set<ParamName>();
  for (const m of methods) {
    for (const p of METHOD_INFO[m]?.params ?? []) {
      if (m === 'integrated-gradients' && p === 'seed' && options.baseline !== 'uniform') continue;
      out.add(p);
    }
  }
  if (options.metrics) {
    out.add('batch');
    out.add('seed');
  }
  return out;
}

/** The options of an engine request for one method: only what that method reads, plus `metrics`. */
export function requestOptions(method: MethodName, options: MethodOptions): MethodOptions {
  const out: MethodOptions = {};
  const target = out as Record<string, unknown>;
  for (const p of relevantParams([method], options)) {
    const v = options[p];
    if (v !== undefined) target[p] = v;
  }
  if (options.metrics) out.metrics = true;
  return out;
}

/** Parses a method name, or undefined. */
export function parseMethod(value: unknown): MethodName | undefined {
  return typeof value === 'string' && (METHODS as readonly string[]).includes(value) ? (value as MethodName) : undefined;
}
