/** Command-line parsing for saliency-lens: one place for option names, defaults and validation. */
import { parseArgs } from 'node:util';
import { BadInputError } from '../shared/errors';
import { BASELINES, COLORMAPS, PREPROCESS_PRESETS, type MethodOptions, type ColormapName, type PreprocessName, type ReduceMode, type ResizeMode } from '../shared/protocol';

/** Options shared by the commands. */
export const OPTION_SPEC = {
  model: { type: 'string' },
  top: { type: 'string' },
  labels: { type: 'string' },
  preprocess: { type: 'string' },
  resize: { type: 'string' },
  method: { type: 'string' },
  target: { type: 'string' },
  reduce: { type: 'string' },
  colormap: { type: 'string' },
  alpha: { type: 'string' },
  clip: { type: 'string' },
  out: { type: 'string' },
  raw: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  workers: { type: 'string' },
  'kernel-threads': { type: 'string' },
  runs: { type: 'string' },
  warmup: { type: 'string' },
  samples: { type: 'string' },
  noise: { type: 'string' },
  squared: { type: 'boolean' },
  'smooth-base': { type: 'string' },
  steps: { type: 'string' },
  baseline: { type: 'string' },
  integration: { type: 'string' },
  layer: { type: 'string' },
  patch: { type: 'string' },
  stride: { type: 'string' },
  'occlusion-value': { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  metrics: { type: 'boolean' },
  filters: { type: 'string' },
  count: { type: 'string' },
  objective: { type: 'string' },
  param: { type: 'string' },
  size: { type: 'string' },
  negative: { type: 'boolean' },
  flashtorch: { type: 'boolean' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  l2: { type: 'string' },
  tv: { type: 'string' },
  contrast: { type: 'string' },
  'no-transforms': { type: 'boolean' },
  octaves: { type: 'string' },
  'octave-scale': { type: 'string' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** Parsed command line. */
export interface CliArgs {
  command: string | undefined;
  positionals: string[];
  values: { [K in keyof typeof OPTION_SPEC]?: (typeof OPTION_SPEC)[K]['type'] extends 'boolean' ? boolean : string };
}

/** Parses argv (without node and script) into a command, positionals and option values. */
export function parseCommandLine(argv: string[]): CliArgs {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTION_SPEC, allowPositionals: true, strict: true });
    return { command: positionals[0], positionals: positionals.slice(1), values: values as CliArgs['values'] };
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0].replace(/\. To specify a positional.*$/, '');
    throw new BadInputError('saliency-lens', msg);
  }
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], option: string): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new BadInputError(option, `"${value}" is not one of ${allowed.join(', ')}`);
}

/** A number option within bounds. */
export function numberOption(value: string | undefined, option: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new BadInputError(option, `"${value}" is not a number between ${min} and ${max}`);
  return n;
}

/** Validated --preprocess. */
export const preprocessOption = (v: string | undefined): PreprocessName | undefined => oneOf(v, PREPROCESS_PRESETS, '--preprocess');
/** Validated --resize. */
export const resizeOption = (v: string | undefined): ResizeMode | undefined => oneOf(v, ['squash', 'center-crop'] as const, '--resize');
/** Validated --reduce. */
export const reduceOption = (v: string | undefined): ReduceMode => oneOf(v, ['max-abs', 'max', 'l2'] as const, '--reduce') ?? 'max-abs';
/** Validated --colormap (undefined: chosen by the map's sign). */
export const colormapOption = (v: string | undefined): ColormapName | undefined => oneOf(v, COLORMAPS, '--colormap');

/** A target given as an index (digits) or a label. */
export function targetOption(v: string | undefined): number | string | undefined {
  if (v === undefined || v === '') return undefined;
  return /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
}

/** The method parameters given on the command line (validated again by each method). */
export function methodOptions(v: CliArgs['values']): MethodOptions {
  const int = (value: string | undefined, name: string, min: number, max: number): number | undefined =>
    value === undefined ? undefined : integerOption(value, name, min, max);
  return {
    samples: int(v.samples, '--samples', 1, 10000),
    noise: v.noise === undefined ? undefined : numberOption(v.noise, '--noise', 0, 10, 0.15),
    squared: v.squared,
    smoothBase: oneOf(v['smooth-base'], ['vanilla', 'guided', 'gradient-x-input'] as const, '--smooth-base'),
    steps: int(v.steps, '--steps', 2, 10000),
    baseline: oneOf(v.baseline, BASELINES, '--baseline'),
    integration: oneOf(v.integration, ['trapezoid', 'gauss-legendre'] as const, '--integration'),
    layer: v.layer,
    patch: int(v.patch, '--patch', 1, 100000),
    stride: int(v.stride, '--stride', 1, 100000),
    occlusionValue: v['occlusion-value'] === undefined ? undefined : numberOption(v['occlusion-value'], '--occlusion-value', -1e6, 1e6, 0),
    batch: int(v.batch, '--batch', 1, 1024),
    seed: int(v.seed, '--seed', 0, 2 ** 31 - 1),
    metrics: v.metrics,
  };
}

function integerOption(value: string, option: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadInputError(option, `"${value}" is not a whole number from ${min} to ${max}`);
  return n;
}
