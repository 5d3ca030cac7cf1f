/**
 * The `saliencyLens.*` settings, read into typed values with every out-of-range value replaced by its
 * default (users edit settings.json by hand; a typo must not reach the engine or the renderer).
 */
import {
  COLORMAPS, METHODS, PREPROCESS_PRESETS,
  type ColormapName, type DisplaySettings, type MethodName, type MethodOptions, type PreprocessName, type ReduceMode, type ResizeMode,
} from '../shared/protocol';
import { sanitizeOptions } from './methodParams';

/** The settings section. */
export const SECTION = 'saliencyLens';

/** All settings, typed and validated. */
export interface Settings {
  /** Model path from the settings ('' when unset); relative paths are relative to the workspace. */
  model: string;
  method: MethodName;
  /** Class index, label, or undefined for the top-1 prediction. */
  target: number | string | undefined;
  /** undefined: the model's settings file or the engine default decides. */
  preprocess: PreprocessName | undefined;
  resize: ResizeMode | undefined;
  display: DisplaySettings;
  /** Method parameters of new panels (undefined fields: the engine's defaults), including `metrics`. */
  options: MethodOptions;
  /** '' lets the engine choose. */
  backend: '' | 'node' | 'wasm' | 'cpu';
  /** wasm backend threads, 1..MAX_THREADS; undefined lets the engine choose. */
  threads: number | undefined;
  /** Gradient helper threads, 0..MAX_WORKERS (0: off); undefined lets the engine choose. */
  workers: number | undefined;
  /** Kernel threads beside the engine's thread (undefined: automatic). */
  kernelThreads: number | undefined;
  autoRefresh: boolean;
  requestTimeoutMs: number;
}

/** Reads one setting; matches `WorkspaceConfiguration.get`. */
export type SettingGetter = (key: string) => unknown;

/** The settings that hold method parameters, by their MethodOptions name. */
export const OPTION_KEYS = ['samples', 'noise', 'squared', 'smoothBase', 'steps', 'baseline', 'integration', 'layer', 'patch', 'stride', 'batch', 'seed', 'metrics'] as const;

const REDUCE_MODES: readonly ReduceMode[] = ['max-abs', 'max', 'l2'];

function pick<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

function num(value: unknown, min: number, max: number, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
}

/** The most wasm threads the engine accepts (src/engine/wasmThreads.ts MAX_WASM_THREADS, not imported: the host never loads engine code). */
export const MAX_THREADS = 8;

/** A whole number from `min` to `max`, given as a number or a string of digits; anything else (such as "auto") is undefined. */
function countSetting(value: unknown, min: number, max: number): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

/** Parses the wasm threads setting: 1..MAX_THREADS as a number or a string; anything else (such as "auto") is automatic. */
export function parseThreadsSetting(value: unknown): number | undefined {
  return countSetting(value, 1, MAX_THREADS);
}

/** The most gradient helper threads the engine accepts (SALIENCY_LENS_WORKERS; engine code is not imported by the host). */
export const MAX_WORKERS = 3;

/** Parses the gradient workers setting: 0..MAX_WORKERS as a number or a string; anything else (such as "auto") is automatic. */
export function parseWorkersSetting(value: unknown): number | undefined {
  return countSetting(value, 0, MAX_WORKERS);
}

/** The most kernel threads the engine accepts (SALIENCY_LENS_KERNEL_WORKERS). */
export const MAX_KERNEL_THREADS = 1;

/** Parses the kernel threads setting: 0..MAX_KERNEL_THREADS as a number or a string; anything else (such as "auto") is automatic. */
export function parseKernelThreadsSetting(value: unknown): number | undefined {
  return countSetting(value, 0, MAX_KERNEL_THREADS);
}

/** Parses a target setting: "" → top-1, "281" → index 281, anything else → a label. */
export function parseTarget(value: unknown): number | string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!text) return undefined;
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** Turns raw setting values into validated settings. */
export function readSettings(get: SettingGetter): Settings {
  const preprocess = get('preprocess');
  const resize = get('resize');
  const backend = get('backend');
  return {
    model: typeof get('model') === 'string' ? (get('model') as string).trim() : '',
    method: pick(get('method'), METHODS, METHODS[0]),
    target: parseTarget(get('target')),
    preprocess: (PREPROCESS_PRESETS as readonly unknown[]).includes(preprocess) ? (preprocess as PreprocessName) : undefined,
    resize: resize === 'squash' || resize === 'center-crop' ? resize : undefined,
    display: {
      colormap: pick<ColormapName>(get('colormap'), COLORMAPS, 'viridis'),
      alpha: num(get('alpha'), 0, 1, 0.5),
      clipPercentile: num(get('clipPercentile'), 50, 100, 99),
      reduce: pick<ReduceMode>(get('reduce'), REDUCE_MODES, 'max-abs'),
    },
    options: sanitizeOptions(Object.fromEntries(OPTION_KEYS.map((k) => [k, get(k)]))),
    backend: backend === 'node' || backend === 'wasm' || backend === 'cpu' ? backend : '',
    threads: parseThreadsSetting(get('wasmThreads')),
    workers: parseWorkersSetting(get('gradientWorkers')),
    kernelThreads: parseKernelThreadsSetting(get('kernelThreads')),
    autoRefresh: get('autoRefresh') !== false,
    requestTimeoutMs: num(get('requestTimeoutSeconds'), 0, 3600, 300) * 1000,
  };
}
