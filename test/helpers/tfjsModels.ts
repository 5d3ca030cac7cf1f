/** Test helper: writes TF.js model folders (model.json + weight file) the way TF.js's file savers lay them out. */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder removed by `cleanup`. */
export function tempDir(prefix = 'saliency-lens-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Something with a tfjs-layers/converter `save` method. */
interface Savable {
  save(handler: tf.io.IOHandler): Promise<tf.io.SaveResult>;
}

/** The artifacts a model's `save` produces, captured in memory. */
export async function captureArtifacts(model: Savable): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    captured = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  if (!captured) throw new Error('save handler was not called');
  return captured;
}

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  const parts = Array.isArray(data) ? data : [data];
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), offset);
    offset += p.byteLength;
  }
  return out;
}

/**
 * Writes model.json plus one weight file, as tf.io.browserDownloads does (`./model.weights.bin`, or
 * `weightFile` as given). `editJson` may rewrite the model.json object before it is written.
 */
export function writeModelFolder(dir: string, artifacts: tf.io.ModelArtifacts,
  options: { weightFile?: string; editJson?: (json: Record<string, unknown>) => void } = {}): string {
  const weightFile = options.weightFile ?? './model.weights.bin';
  const json: Record<string, unknown> = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: [weightFile], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.signature) json.signature = artifacts.signature;
  options.editJson?.(json);
  writeFileSync(join(dir, weightFile), weightBytes(artifacts.weightData));
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(json));
  return path;
}

/** Saves a tfjs-layers model into `dir`; returns the model.json path. */
export async function saveLayersModel(model: Savable, dir: string,
  options: { weightFile?: string; editJson?: (json: Record<string, unknown>) => void } = {}): Promise<string> {
  return writeModelFolder(dir, await captureArtifacts(model), options);
}

/** Largest absolute elementwise difference of two tensors. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Cosine similarity of two tensors, flattened. */
export function cosine(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => {
    const x = tf.reshape(a, [-1]);
    const y = tf.reshape(b, [-1]);
    return tf.div(tf.sum(tf.mul(x, y)), tf.mul(tf.norm(x), tf.norm(y))).dataSync()[0];
  });
}

/**
 * Computes a reference tensor on the cpu backend and returns a copy on the current one: tfjs-layers needs
 * filter-gradient kernels that wasm lacks, and plain tf.maxPool's gradient is wrong on wasm (4.22).
 */
export async function onCpu(compute: () => tf.Tensor): Promise<tf.Tensor> {
  const backend = tf.getBackend();
  if (backend === 'cpu') return compute();
  await tf.setBackend('cpu');
  let values: Float32Array;
  let shape: number[];
  try {
    const t = compute();
    values = Float32Array.from(t.dataSync());
    shape = t.shape;
    t.dispose();
  } finally {
    await tf.setBackend(backend);
  }
  return tf.tensor(values, shape);
}
