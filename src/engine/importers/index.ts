/** Loads any supported model file (TF.js Layers / Graph model.json, ONNX) into the internal graph. */
import { promises as fsp, existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { BadInputError } from '../../shared/errors';
import { classifyModelJson } from '../../shared/modelSniff';
import type { Graph } from '../graph/ir';
import { importGraphModel } from './graphModel';
import { importLayersModel } from './layers';

/** Refuses model.json files bigger than this: real topologies are a few MB, weights live in shards. */
const MAX_MODEL_JSON_BYTES = 512 * 1024 * 1024;

/** Checks that a path names a readable regular file; one-line errors otherwise. */
export async function checkModelFile(path: string): Promise<number> {
  let stat;
  try {
    stat = await fsp.stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInputError(path, code === 'ENOENT' ? 'model file not found' : `cannot read model file (${code ?? 'error'})`);
  }
  if (stat.isDirectory()) {
    const hint = existsSync(join(path, 'model.json')) ? `; did you mean ${join(path, 'model.json')}?` : '';
    throw new BadInputError(path, `is a directory, not a model file${hint}`);
  }
  if (!stat.isFile()) throw new BadInputError(path, 'is not a regular file');
  return stat.size;
}

/** Reads and parses a model.json; bad JSON is a one-line error. */
export async function readModelJson(path: string): Promise<unknown> {
  const size = await checkModelFile(path);
  if (size > MAX_MODEL_JSON_BYTES) throw new BadInputError(path, `model.json is too large (${size} bytes)`);
  const text = await fsp.readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : 'parse error';
    throw new BadInputError(path, `not valid JSON (${detail})`);
  }
}

/** Imports a parsed model.json of either TF.js format. */
export async function importModelJson(path: string, json: unknown): Promise<Graph> {
  const kind = classifyModelJson(json);
  if (kind === 'tfjs-graph') return importGraphModel(path, json);
  if (kind === 'tfjs-layers') return importLayersModel(path, json);
  throw new BadInputError(path, 'not a TF.js model.json (no modelTopology with layers or graph nodes)');
}

/** The ONNX importer, loaded lazily so that TF.js-only runs never load protobufjs. */
async function importOnnx(path: string, options: LoadGraphOptions): Promise<Graph> {
  // require, not import(): a dynamic import needs ESM loader hooks, which worker threads under tsx lack.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { importOnnxModel } = require('./onnx') as typeof import('./onnx');
  return importOnnxModel(path, options);
}

/** Options of a model load. */
export interface LoadGraphOptions {
  /** Spatial size for models whose input size is dynamic (ONNX fixes shapes at import). */
  inputSize?: [number, number];
}

/** Loads a model file into the internal graph, by extension: `.onnx`, or a TF.js `model.json`. */
export async function loadGraphFromFile(path: string, options: LoadGraphOptions = {}): Promise<Graph> {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') {
    await checkModelFile(path);
    return importOnnx(path, options);
  }
  if (ext === '.json') return importModelJson(path, await readModelJson(path));
  await checkModelFile(path);
  throw new BadInputError(path, 'not a TF.js model.json or .onnx file');
}
