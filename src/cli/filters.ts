/** The `filters` and `dream` commands: feature visualisation pictures, one PNG per filter plus a grid. */
import { mkdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { BadInputError } from '../shared/errors';
import { FEATURE_OBJECTIVES, type FeatureObjective, type FeatureVisOptions, type FeatureVisResult } from '../shared/protocol';
import { asBytes } from '../shared/render';
import type { Engine } from '../engine/engine';
import { writePng } from '../engine/image/encode';
import { dream, visualizeFilters, type FeatureVisControl } from '../engine/featureVis';
import { filterGrid } from '../engine/featureVis/images';
import { numberOption, preprocessOption, resizeOption, type CliArgs } from './args';

/** Tiles of the grid PNG are enlarged (nearest neighbour) to at least this many pixels. */
const GRID_MIN_TILE = 128;

function wholeNumber(value: string | undefined, option: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadInputError(option, `"${value}" is not a whole number from ${min} to ${max}`);
  return n;
}

/** Parses `--filters 0,1,2` (ranges like 4-7 allowed). */
export function parseFilterList(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const out: number[] = [];
  for (const part of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (b < a || b - a > 100000) throw new BadInputError('--filters', `bad range "${part}"`);
      for (let i = a; i <= b; i++) out.push(i);
    } else if (/^\d+$/.test(part)) {
      out.push(Number(part));
    } else {
      throw new BadInputError('--filters', `"${part}" is not a filter index (expected e.g. 0,1,2 or 4-7)`);
    }
  }
  if (out.length === 0) throw new BadInputError('--filters', 'no filter index given');
  return out;
}

/** The feature visualisation options given on the command line. */
export function featureVisOptions(v: CliArgs['values']): FeatureVisOptions {
  const objective = v.objective;
  if (objective !== undefined && !(FEATURE_OBJECTIVES as readonly string[]).includes(objective)) {
    throw new BadInputError('--objective', `"${objective}" is not one of ${FEATURE_OBJECTIVES.join(', ')}`);
  }
  if (v.param !== undefined && v.param !== 'pixel' && v.param !== 'fourier') throw new BadInputError('--param', `"${v.param}" is not one of pixel, fourier`);
  if (v.optimizer !== undefined && v.optimizer !== 'adam' && v.optimizer !== 'rms') throw new BadInputError('--optimizer', `"${v.optimizer}" is not one of adam, rms`);
  const real = (value: string | undefined, option: string, min: number, max: number) =>
    value === undefined ? undefined : numberOption(value, option, min, max, 0);
  return {
    objective: objective as FeatureObjective | undefined,
    param: v.param as 'pixel' | 'fourier' | undefined,
    steps: wholeNumber(v.steps, '--steps', 1, 100000),
    size: wholeNumber(v.size, '--size', 8, 4096),
    seed: wholeNumber(v.seed, '--seed', 0, 2 ** 31 - 1),
    optimizer: v.optimizer as 'adam' | 'rms' | undefined,
    lr: real(v.lr, '--lr', 1e-6, 1e4),
    l2: real(v.l2, '--l2', 0, 1e6),
    tv: real(v.tv, '--tv', 0, 1e6),
    contrast: real(v.contrast, '--contrast', 0, 100),
    transforms: v['no-transforms'] ? false : undefined,
    negative: v.negative,
    flashtorch: v.flashtorch,
    batch: wholeNumber(v.batch, '--batch', 1, 1024),
    octaves: wholeNumber(v.octaves, '--octaves', 1, 10),
    octaveScale: real(v['octave-scale'], '--octave-scale', 1.05, 4),
  };
}

/** A layer name made safe for a file name (graph and ONNX names contain slashes and colons). */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
}

/** Progress on a terminal's stderr, overwritten in place; silent otherwise. */
function terminalProgress(): FeatureVisControl {
  if (!process.stderr.isTTY) return {};
  return { onProgress: (f, m) => process.stderr.write(`\r\x1b[K${(f * 100).toFixed(0).padStart(3)}% ${m}`) };
}

async function writeOutputs(result: FeatureVisResult, outDir: string, stem: string): Promise<{ files: string[]; grid?: string }> {
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  for (const f of result.filters) {
    const path = join(outDir, `${stem}${f.index === null ? '' : `.${f.index}`}.png`);
    await writePng(path, f.image);
    files.push(path);
  }
  if (result.filters.length < 2) return { files };
  const grid = filterGrid(result.filters.map((f) => {
    const rgba = asBytes(f.image.data);
    const rgb = new Uint8Array(f.image.width * f.image.height * 3);
    for (let i = 0, j = 0; j < rgba.length; i += 3, j += 4) rgb.set(rgba.subarray(j, j + 3), i);
    return { width: f.image.width, height: f.image.height, data: rgb };
  }), { minTile: GRID_MIN_TILE });
  const rgba = new Uint8Array(grid.width * grid.height * 4);
  for (let i = 0, j = 0; i < grid.data.length; i += 3, j += 4) {
    rgba.set(grid.data.subarray(i, i + 3), j);
    rgba[j + 3] = 255;
  }
  const gridPath = join(outDir, `${stem}.grid.png`);
  await writePng(gridPath, { width: grid.width, height: grid.height, data: rgba });
  return { files, grid: gridPath };
}

function report(result: FeatureVisResult, outputs: { files: string[]; grid?: string }, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify({
      layer: result.layer, objective: result.objective,
      filters: result.filters.map((f, i) => ({ index: f.index, before: f.before, after: f.after, file: outputs.files[i] })),
      grid: outputs.grid ?? null, param: result.param, steps: result.steps, backend: result.backend, timingMs: result.timingMs,
    }));
    return;
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const what = result.objective === 'layer' ? 'mean squared activation' : result.objective === 'channel' ? 'mean activation' : result.objective;
  console.log(`${result.layer} (${result.objective}, ${result.param}, ${result.steps} steps, ${result.backend}, ${(result.timingMs.optimize / 1000).toFixed(1)} s): ${what} on the start image → on the result`);
  result.filters.forEach((f, i) => {
    console.log(`  ${f.index === null ? 'layer' : `filter ${String(f.index).padStart(4)}`}  ${f.before.toPrecision(4).padStart(11)} → ${f.after.toPrecision(4).padStart(11)}  ${outputs.files[i]}`);
  });
  if (outputs.grid) console.log(`wrote ${outputs.grid}`);
}

/** `saliency-lens filters`: optimises one picture per filter of a layer. */
export async function filtersCommand(engine: Engine, args: CliArgs, modelPath: string): Promise<void> {
  const options = featureVisOptions(args.values);
  const scores = options.objective === 'logit' || options.objective === 'probability';
  if (!args.values.layer && !scores) throw new BadInputError('--layer', "is required (list the layers with 'saliency-lens layers')");
  if (args.values.filters !== undefined && args.values.count !== undefined) throw new BadInputError('--count', 'give either --filters or --count, not both');
  if (args.positionals.length > 0) throw new BadInputError(args.positionals[0], 'filters takes no image (did you mean dream?)');
  const result = await visualizeFilters(engine, {
    modelPath, layer: args.values.layer, filters: parseFilterList(args.values.filters),
    count: wholeNumber(args.values.count, '--count', 1, 100000), options,
    preprocess: preprocessOption(args.values.preprocess), labelsPath: args.values.labels,
  }, terminalProgress());
  const suffix = `${options.negative ? '.negative' : ''}${options.flashtorch ? '.flashtorch' : ''}`;
  const outputs = await writeOutputs(result, resolve(args.values.out ?? 'saliency-lens-out'), `${safeName(result.layer)}.${result.objective}${suffix}`);
  report(result, outputs, args.values.json);
}

/** `saliency-lens dream IMAGE`: DeepDream on an image for a layer or its filters. */
export async function dreamCommand(engine: Engine, args: CliArgs, modelPath: string, imagePath: string): Promise<void> {
  if (!args.values.layer) throw new BadInputError('--layer', "is required (list the layers with 'saliency-lens layers')");
  if (args.values.count !== undefined) throw new BadInputError('--count', 'dream takes --filters (a list), not --count');
  const options = featureVisOptions(args.values);
  const result = await dream(engine, {
    imagePath, modelPath, layer: args.values.layer, filters: parseFilterList(args.values.filters), options,
    preprocess: preprocessOption(args.values.preprocess), resize: resizeOption(args.values.resize), labelsPath: args.values.labels,
  }, terminalProgress());
  const stem = `${basename(imagePath, extname(imagePath))}.dream.${safeName(result.layer)}${options.negative ? '.negative' : ''}`;
  const outputs = await writeOutputs(result, resolve(args.values.out ?? 'saliency-lens-out'), stem);
  report(result, outputs, args.values.json);
}
