/**
 * Class names for a model — from its metadata, a labels file, or the ImageNet-1k names as a guess — and the
 * lookup of a target class by index or by (part of) its name, after FlashTorch's ImageNetIndex.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BadInputError, oneLine } from '../shared/errors';
import imagenetClasses from './data/imagenet-classes.json';
import { modelFolder } from './image/settings';

/** Labels and where they came from: 'model', a file path, 'imagenet-guess' or 'none'. */
export interface LoadedLabels {
  labels: string[];
  source: string;
}

/** Files looked for beside a model, in this order. */
export const LABEL_FILE_NAMES: readonly string[] = ['labels.txt', 'labels.json', 'classes.txt'];

/** The ImageNet-1k class names in torchvision's index order. */
export const IMAGENET_CLASSES: readonly string[] = imagenetClasses;

/** The label of a class that has no name. */
export function genericLabel(index: number): string {
  return `class ${index}`;
}

/** A WordNet id prefix as in Caffe's synset_words.txt ("n01440764 tench, Tinca tinca"). */
const SYNSET_PREFIX = /^n\d{8}\s+/;

function parseTextLabels(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((line) => line.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const nonEmpty = lines.filter((line) => line !== '');
  const synsets = nonEmpty.length > 0 && nonEmpty.every((line) => SYNSET_PREFIX.test(line));
  return lines.map((line, i) => (line === '' ? genericLabel(i) : synsets ? line.replace(SYNSET_PREFIX, '') : line));
}

/** One JSON entry: a name, or [wordnet id, name] as in Keras's imagenet_class_index.json. */
function jsonLabel(value: unknown, path: string, where: string): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value[value.length - 1] as string;
  throw new BadInputError(path, `entry ${where} is not a label name (got ${JSON.stringify(value)?.slice(0, 40)})`);
}

function parseJsonLabels(text: string, path: string, numClasses: number): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new BadInputError(path, `invalid JSON (${oneLine(err)})`);
  }
  if (Array.isArray(parsed)) return parsed.map((v, i) => jsonLabel(v, path, String(i)));
  if (parsed === null || typeof parsed !== 'object') throw new BadInputError(path, 'must hold an array of names or an {"index": "name"} object');
  const entries = Object.entries(parsed as Record<string, unknown>);
  const labels: string[] = [];
  for (const [key, value] of entries) {
    if (!/^\d+$/.test(key)) throw new BadInputError(path, `key "${key}" is not a class index`);
    const index = Number(key);
    if (index >= Math.max(numClasses, entries.length)) {
      throw new BadInputError(path, `class index ${index} out of range (the model has ${numClasses} classes)`);
    }
    labels[index] = jsonLabel(value, path, `"${key}"`);
  }
  return Array.from({ length: labels.length }, (_, i) => labels[i] ?? genericLabel(i));
}

/** Reads a labels file: text (one name per line) or JSON (an array, or an {"index": name} object). */
export function readLabelsFile(path: string, numClasses: number): string[] {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new BadInputError(path, 'is a directory, not a labels file');
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInputError(path, code === 'ENOENT' || code === 'ENOTDIR' ? 'file not found' : `cannot read (${oneLine(err)})`);
  }
  const labels = path.toLowerCase().endsWith('.json') ? parseJsonLabels(text, path, numClasses) : parseTextLabels(text);
  if (labels.length !== numClasses) {
    throw new BadInputError(path, `has ${labels.length} labels but the model has ${numClasses} classes`);
  }
  return labels;
}

/**
 * Finds the labels of a model. In order: `overridePath` (a file the user or the model's settings file named),
 * labels from the model's own metadata (when their count fits), labels.txt / labels.json / classes.txt beside
 * the model, the ImageNet-1k names for 1000-class (or 1001 with background) models — flagged as a guess —
 * and otherwise "class i".
 */
export function loadLabels(modelPath: string, numClasses: number, overridePath?: string, metadataLabels?: readonly string[]): LoadedLabels {
  if (overridePath) {
    const path = resolve(overridePath);
    return { labels: readLabelsFile(path, numClasses), source: path };
  }
  if (metadataLabels && metadataLabels.length === numClasses) return { labels: [...metadataLabels], source: 'model' };
  const folder = modelFolder(modelPath);
  for (const name of LABEL_FILE_NAMES) {
    const path = join(folder, name);
    if (existsSync(path)) return { labels: readLabelsFile(path, numClasses), source: path };
  }
  if (numClasses === 1000) return { labels: [...IMAGENET_CLASSES], source: 'imagenet-guess' };
  if (numClasses === 1001) return { labels: ['background', ...IMAGENET_CLASSES], source: 'imagenet-guess' };
  return { labels: Array.from({ length: numClasses }, (_, i) => genericLabel(i)), source: 'none' };
}

const TARGET = 'target';

function normalizeName(text: string): string {
  return text.toLowerCase().replace(/[_\s]+/g, ' ').trim();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function describe(labels: readonly string[], indices: readonly number[], limit = 8): string {
  const shown = indices.slice(0, limit).map((i) => `${i} ${labels[i]}`).join('; ');
  return indices.length > limit ? `${shown}; and ${indices.length - limit} more` : shown;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function checkIndex(index: number, count: number, shown: string): number {
  if (!Number.isInteger(index)) throw new BadInputError(TARGET, `class index must be an integer (got ${shown})`);
  if (index < 0 || index >= count) {
    const range = count > 0 ? `0–${count - 1}` : 'the model has no classes';
    throw new BadInputError(TARGET, `class index ${shown} out of range (${range})`);
  }
  return index;
}

/**
 * Resolves a target class: an index (number or digits, range-checked) or a label. Labels match
 * case-insensitively, each comma-separated synonym counting on its own: an exact match first, then a
 * whole-word match, then a substring. Several classes at the first stage that matches is an error listing
 * them; no match is an error naming the closest labels. Never falls back to another class.
 */
export function resolveTarget(labels: readonly string[], query: number | string): number {
  if (typeof query === 'number') return checkIndex(query, labels.length, String(query));
  const text = query.trim();
  if (/^[-+]?\d+$/.test(text)) return checkIndex(Number(text), labels.length, text);
  const wanted = normalizeName(text);
  if (wanted === '') throw new BadInputError(TARGET, 'empty class name');

  const names = labels.map((label) => {
    const full = normalizeName(label);
    const synonyms = label.split(',').map(normalizeName).filter((s) => s !== '');
    return { full, synonyms };
  });
  const wholeWord = new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(wanted)}($|[^\\p{L}\\p{N}])`, 'u');
  const stages: Array<[string, (n: (typeof names)[number]) => boolean]> = [
    ['exactly', (n) => n.full === wanted || n.synonyms.includes(wanted)],
    ['as a whole word', (n) => wholeWord.test(n.full)],
    ['as a substring', (n) => n.full.includes(wanted)],
  ];
  for (const [how, matches] of stages) {
    const found = names.flatMap((n, i) => (matches(n) ? [i] : []));
    if (found.length === 1) return found[0];
    if (found.length > 1) {
      throw new BadInputError(TARGET, `"${text}" matches ${found.length} classes ${how}: ${describe(labels, found)} (give the index or a longer name)`);
    }
  }
  const closest = names
    .map((n, i) => ({ i, d: Math.min(...[n.full, ...n.synonyms].map((s) => editDistance(wanted, s))) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, 3)
    .map((c) => c.i);
  const hint = closest.length > 0 ? `; closest: ${describe(labels, closest)}` : '';
  throw new BadInputError(TARGET, `no class matches "${text}"${hint}`);
}
