/**
 * The per-model settings file `saliency-lens.json`, beside the model file (or inside a model folder):
 * how to preprocess and resize images for that model, its labels file and, for dynamic models, the input size.
 * Format: docs/model-settings.md.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { PreprocessName, ResizeMode } from '../../shared/protocol';
import { PREPROCESS_PRESETS } from '../../shared/protocol';
import { BadInputError, oneLine } from '../../shared/errors';
import { RESIZE_MODES } from './fit';

/** The settings file's name. */
export const SETTINGS_FILE = 'saliency-lens.json';

/** Largest input side accepted from a settings file (larger would be a typo or a memory bomb). */
const MAX_INPUT_SIDE = 8192;
const KNOWN_KEYS = ['preprocess', 'resize', 'labels', 'inputSize', '$schema', 'comment'];

/** Validated contents of a settings file. */
export interface ModelSettings {
  /** Absolute path of the settings file; absent when the model has none. */
  path?: string;
  preprocess?: PreprocessName;
  resize?: ResizeMode;
  /** Absolute path of the labels file (checked to lie inside the model folder and to exist). */
  labels?: string;
  /** [height, width] for models whose spatial size is dynamic. */
  inputSize?: [number, number];
}

/** The folder a model lives in: the path itself when it is a folder, else its parent. */
export function modelFolder(modelPath: string): string {
  const absolute = resolve(modelPath);
  try {
    if (statSync(absolute).isDirectory()) return absolute;
  } catch {
    // A missing model is reported by whoever loads it; its folder is still its parent.
  }
  return dirname(absolute);
}

function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}

/**
 * Resolves a file name from a settings file inside the model folder. Absolute paths, `..` escapes and
 * symbolic links pointing out of the folder are refused: a model folder downloaded from elsewhere must not
 * make us read arbitrary files.
 */
export function resolveInsideFolder(folder: string, name: string, subject: string, key: string): string {
  if (name.trim() === '') throw new BadInputError(subject, `"${key}" is empty`);
  if (isAbsolute(name) || /^[a-zA-Z]:[\\/]/.test(name)) throw new BadInputError(subject, `"${key}" must be a file name inside the model folder, not an absolute path`);
  const path = resolve(folder, name);
  if (!isInside(folder, path)) throw new BadInputError(subject, `"${key}" points outside the model folder: ${name}`);
  if (!existsSync(path)) throw new BadInputError(subject, `"${key}" file not found: ${name}`);
  if (!isInside(realpathSync(folder), realpathSync(path))) throw new BadInputError(subject, `"${key}" links outside the model folder: ${name}`);
  if (!statSync(path).isFile()) throw new BadInputError(subject, `"${key}" is not a file: ${name}`);
  return path;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], subject: string, key: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new BadInputError(subject, `"${key}" must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
}

function inputSize(value: unknown, subject: string): [number, number] {
  const valid = Array.isArray(value) && value.length === 2
    && value.every((v) => Number.isInteger(v) && v > 0 && v <= MAX_INPUT_SIDE);
  if (!valid) throw new BadInputError(subject, `"inputSize" must be [height, width], integers 1–${MAX_INPUT_SIDE} (got ${JSON.stringify(value)})`);
  return [value[0], value[1]];
}

/** Reads and validates the settings file beside a model; an empty object when there is none. */
export function readModelSettings(modelPath: string): ModelSettings {
  const folder = modelFolder(modelPath);
  const path = join(folder, SETTINGS_FILE);
  if (!existsSync(path)) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BadInputError(path, `cannot read (${oneLine(err)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new BadInputError(path, `invalid JSON (${oneLine(err)})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadInputError(path, 'must hold a JSON object');
  const raw = parsed as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((k) => !KNOWN_KEYS.includes(k));
  if (unknown.length > 0) throw new BadInputError(path, `unknown key "${unknown[0]}" (expected preprocess, resize, labels, inputSize)`);

  const settings: ModelSettings = { path };
  if (raw.preprocess !== undefined) settings.preprocess = oneOf(raw.preprocess, PREPROCESS_PRESETS, path, 'preprocess');
  if (raw.resize !== undefined) settings.resize = oneOf(raw.resize, RESIZE_MODES, path, 'resize');
  if (raw.labels !== undefined) {
    if (typeof raw.labels !== 'string') throw new BadInputError(path, `"labels" must be a file name (got ${JSON.stringify(raw.labels)})`);
    settings.labels = resolveInsideFolder(folder, raw.labels, path, 'labels');
  }
  if (raw.inputSize !== undefined) settings.inputSize = inputSize(raw.inputSize, path);
  return settings;
}

/** Where the preprocessing in use came from (ModelInfo.preprocessSource). */
export type PreprocessSource = 'option' | 'settings-file' | 'default';

/** Picks the preprocessing: an explicit option wins over the settings file, which wins over the default. */
export function choosePreprocess(
  option: PreprocessName | undefined, settings: ModelSettings, fallback: PreprocessName,
): { preprocess: PreprocessName; source: PreprocessSource } {
  if (option) return { preprocess: option, source: 'option' };
  if (settings.preprocess) return { preprocess: settings.preprocess, source: 'settings-file' };
  return { preprocess: fallback, source: 'default' };
}
