/** Test helper: compares the engine with reference outputs written by the PyTorch fixture scripts. */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeNpy } from '../../src/shared/npy';
import { LoadedModel } from '../../src/engine/model';
import { runMethod } from '../../src/engine/methods';
import type { MethodName } from '../../src/shared/protocol';

/** Cosine similarity of two equally long arrays. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** Largest |a-b| relative to the largest |b| (absolute when b is all zeros). */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale || 1);
}

/** Reads a float32 .npy fixture. */
export function readNpy(path: string): { data: Float32Array; shape: number[] } {
  const { data, shape } = decodeNpy(readFileSync(path));
  return { data: Float32Array.from(data), shape: [...shape] };
}

/** What the engine produced for a fixture's input, next to the reference. */
export interface ReferenceComparison {
  logitsRelError: number;
  cosines: Partial<Record<MethodName, number>>;
  target: number;
}

/** Runs `model` on the fixture's exact input tensor and compares logits and the given methods' maps. */
export async function compareWithReference(model: LoadedModel, fixtureDir: string, methods: MethodName[]): Promise<ReferenceComparison> {
  const reference = JSON.parse(readFileSync(join(fixtureDir, 'reference.json'), 'utf8')) as { target: number };
  const input = readNpy(join(fixtureDir, 'input.npy'));
  const [h, w, c] = input.shape;
  const x = tf.tensor4d(input.data, [1, h, w, c]);
  const logits = tf.tidy(() => model.logits(x).dataSync() as Float32Array);
  const cosines: ReferenceComparison['cosines'] = {};
  for (const method of methods) {
    const out = await runMethod(method, model, x, [reference.target]);
    const ours = out.attribution.dataSync() as Float32Array;
    out.attribution.dispose();
    const ref = readNpy(join(fixtureDir, `${method}.npy`));
    cosines[method] = cosine(ours, ref.data);
  }
  x.dispose();
  const refLogits = readNpy(join(fixtureDir, 'logits.npy')).data;
  return { logitsRelError: maxRelativeError(logits, refLogits), cosines, target: reference.target };
}
