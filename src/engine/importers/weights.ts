/** Reads the weight shards of a TF.js model.json (`weightsManifest`) into tensors, safely. */
import * as tf from '@tensorflow/tfjs-core';
import { promises as fsp, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { BadInputError } from '../../shared/errors';

/** Quantization metadata of a manifest entry. */
export interface WeightQuantization {
  dtype: string;
  scale?: number;
  min?: number;
  original_dtype?: string;
}

/** One weight of a manifest group. */
export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: WeightQuantization;
}

/** A group of weights stored, concatenated, across one or more shard files. */
export interface WeightGroup {
  paths: string[];
  weights: WeightEntry[];
}

const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the manifest's structure and returns it typed; `subject` is the model.json path. */
export function parseManifest(subject: string, manifest: unknown): WeightGroup[] {
  if (manifest === undefined || manifest === null) return [];
  if (!Array.isArray(manifest)) throw new BadInputError(subject, 'weightsManifest is not a list');
  return manifest.map((group, gi) => {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new BadInputError(subject, `weightsManifest group ${gi} needs "paths" and "weights" lists`);
    }
    const paths = group.paths.map((p) => {
      if (typeof p !== 'string' || p === '') throw new BadInputError(subject, `weightsManifest group ${gi} has a non-string path`);
      return p;
    });
    const weights = group.weights.map((w) => parseEntry(subject, w));
    return { paths, weights };
  });
}

function parseEntry(subject: string, w: unknown): WeightEntry {
  if (!isRecord(w) || typeof w.name !== 'string' || !Array.isArray(w.shape)) {
    throw new BadInputError(subject, 'weightsManifest has an entry without a name or shape');
  }
  const shape = w.shape.map((d) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new BadInputError(subject, `weight ${w.name} has an invalid shape ${JSON.stringify(w.shape)}`);
    }
    return d;
  });
  const q = w.quantization;
  const quantization = isRecord(q) ? parseQuantization(subject, w.name, q) : undefined;
  const dtype = typeof w.dtype === 'string' ? w.dtype : (quantization?.original_dtype ?? 'float32');
  return { name: w.name, shape, dtype, quantization };
}

function parseQuantization(subject: string, name: string, q: Record<string, unknown>): WeightQuantization {
  const dtype = String(q.dtype);
  if (dtype !== 'uint8' && dtype !== 'uint16' && dtype !== 'float16') {
    throw new BadInputError(subject, `weight ${name} uses unsupported quantization ${dtype}`);
  }
  if (dtype !== 'float16' && (typeof q.scale !== 'number' || typeof q.min !== 'number')) {
    throw new BadInputError(subject, `weight ${name} is ${dtype}-quantized but lacks numeric scale and min`);
  }
  return {
    dtype,
    scale: typeof q.scale === 'number' ? q.scale : undefined,
    min: typeof q.min === 'number' ? q.min : undefined,
    original_dtype: typeof q.original_dtype === 'string' ? q.original_dtype : undefined,
  };
}

/** Bytes one entry occupies in its shard, from shape × stored dtype. */
export function entryByteLength(subject: string, entry: WeightEntry): number {
  const stored = entry.quantization?.dtype ?? entry.dtype;
  const bytes = STORED_BYTES[stored];
  if (bytes === undefined || (!entry.quantization && (stored === 'uint8' || stored === 'uint16' || stored === 'float16'))) {
    throw new BadInputError(subject, `weight ${entry.name} has unsupported dtype ${entry.dtype}`);
  }
  if (entry.quantization && entry.dtype !== 'float32' && !(entry.dtype === 'int32' && stored !== 'float16')) {
    throw new BadInputError(subject, `weight ${entry.name}: ${stored} quantization of ${entry.dtype} is not supported`);
  }
  return entry.shape.reduce((a, b) => a * b, 1) * bytes;
}

/**
 * Resolves a shard path from the manifest, refusing anything that is not a file inside the model's folder:
 * absolute paths, URLs, `..` escapes and symlinks whose real path lies outside.
 */
export function resolveShardPath(modelJsonPath: string, shard: string): string {
  const fail = (problem: string): never => {
    throw new BadInputError(modelJsonPath, `weight path "${shard}" ${problem}`);
  };
  if (shard.includes('\0')) fail('contains a NUL character');
  if (isAbsolute(shard) || shard.startsWith('/') || shard.startsWith('\\') || /^[a-zA-Z]:/.test(shard)) {
    fail('is absolute; weight files must lie in the model\'s folder');
  }
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(shard)) fail('is a URL; weight files must be local, beside the model.json');
  const folder = dirname(resolve(modelJsonPath));
  const inside = (root: string, p: string): boolean => {
    const rel = relative(root, p);
    return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
  };
  // TF.js fetches shard paths as relative URLs, so percent-escapes are legal; prefer the literal name.
  let candidate = resolve(folder, shard);
  if (!inside(folder, candidate)) fail('escapes the model\'s folder');
  if (!exists(candidate) && /%[0-9a-fA-F]{2}/.test(shard)) {
    let decoded = shard;
    try {
      decoded = decodeURIComponent(shard);
    } catch {
      // keep the literal name
    }
    const alt = resolve(folder, decoded);
    if (!inside(folder, alt)) fail('escapes the model\'s folder');
    if (exists(alt)) candidate = alt;
  }
  if (!exists(candidate)) throw new BadInputError(candidate, 'weight file listed in the model.json is missing');
  const realFolder = realpathSync(folder);
  const real = realpathSync(candidate);
  if (!inside(realFolder, real)) fail('resolves (through a symbolic link) outside the model\'s folder');
  if (!statSync(real).isFile()) throw new BadInputError(candidate, 'weight path is not a regular file');
  return candidate;
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Decodes IEEE 754 half-precision bit patterns to float32. */
export function decodeFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) out[i] = sign * fraction * 2 ** -24;
    else if (exponent === 0x1f) out[i] = fraction ? NaN : sign * Infinity;
    else out[i] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return out;
}

/** Copies `length` bytes at `offset` into a fresh, aligned ArrayBuffer. */
function bytesAt(buffer: Buffer, offset: number, length: number): ArrayBuffer {
  const out = new ArrayBuffer(length);
  new Uint8Array(out).set(buffer.subarray(offset, offset + length));
  return out;
}

function decodeEntry(entry: WeightEntry, bytes: ArrayBuffer): tf.Tensor {
  const q = entry.quantization;
  if (!q) {
    if (entry.dtype === 'float32') return tf.tensor(new Float32Array(bytes), entry.shape, 'float32');
    if (entry.dtype === 'int32') return tf.tensor(new Int32Array(bytes), entry.shape, 'int32');
    return tf.tensor(new Uint8Array(bytes), entry.shape, 'bool');
  }
  if (q.dtype === 'float16') return tf.tensor(decodeFloat16(new Uint16Array(bytes)), entry.shape, 'float32');
  const stored = q.dtype === 'uint8' ? new Uint8Array(bytes) : new Uint16Array(bytes);
  const scale = q.scale!;
  const min = q.min!;
  if (entry.dtype === 'int32') {
    const ints = new Int32Array(stored.length);
    for (let i = 0; i < stored.length; i++) ints[i] = Math.round(stored[i] * scale + min);
    return tf.tensor(ints, entry.shape, 'int32');
  }
  const floats = new Float32Array(stored.length);
  for (let i = 0; i < stored.length; i++) floats[i] = stored[i] * scale + min;
  return tf.tensor(floats, entry.shape, 'float32');
}

/**
 * Loads every weight of the manifest. Shard files are resolved inside the model.json's folder only and
 * their total size is checked against the manifest's shapes before anything is read or allocated.
 */
export async function loadWeights(modelJsonPath: string, manifest: unknown): Promise<Map<string, tf.Tensor>> {
  const groups = parseManifest(modelJsonPath, manifest);
  const plans = groups.map((group) => {
    const files = group.paths.map((p) => resolveShardPath(modelJsonPath, p));
    const lengths = group.weights.map((w) => entryByteLength(modelJsonPath, w));
    const expected = lengths.reduce((a, b) => a + b, 0);
    const sizes = files.map((f) => statSync(f).size);
    const actual = sizes.reduce((a, b) => a + b, 0);
    if (actual !== expected) {
      const subject = files.length === 1 ? files[0] : files.join(', ');
      throw new BadInputError(subject,
        `weight file holds ${actual} bytes but the manifest's shapes need ${expected} bytes (truncated or wrong file?)`);
    }
    return { group, files, lengths };
  });
  const out = new Map<string, tf.Tensor>();
  try {
    for (const { group, files, lengths } of plans) {
      const buffer = Buffer.concat(await Promise.all(files.map((f) => fsp.readFile(f))));
      const expected = lengths.reduce((a, b) => a + b, 0);
      if (buffer.length !== expected) throw new BadInputError(files[0], 'weight file changed while it was being read');
      let offset = 0;
      group.weights.forEach((entry, i) => {
        out.get(entry.name)?.dispose();
        out.set(entry.name, decodeEntry(entry, bytesAt(buffer, offset, lengths[i])));
        offset += lengths[i];
      });
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}
