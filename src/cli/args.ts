/** Command-line parsing for saliency-lens: one place for option names, defaults and validation. */
import { parseArgs } from 'node:util';
import { BadInputError } from '../shared/errors';
import { COLORMAPS, PREPROCESS_PRESETS, type ColormapName, type PreprocessName, type ReduceMode, type ResizeMode } from '../shared/protocol';

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
  runs: { type: 'string' },
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
