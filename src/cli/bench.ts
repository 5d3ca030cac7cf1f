/** `saliency-lens bench`: warm latency of one method on one model, for measurements outside the project. */
import * as tf from '@tensorflow/tfjs-core';
import type { MethodName, MethodOptions } from '../shared/protocol';
import type { Engine } from '../engine/engine';
import { runMethod } from '../engine/methods';
import { uniformRandom } from '../engine/methods/sampling';
import { backendThreads } from '../engine/backend';

/** What one bench run measured. */
export interface BenchResult {
  model: string;
  method: MethodName | 'predict';
  backend: string;
  /** Threads the backend computes with (undefined: native TensorFlow's own pool). */
  threads?: number;
  runs: number;
  loadMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  peakRssMb: number;
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Times `runs` warm runs (after `warmup` warm-up runs, default 2) of a method on a seeded random input of the model's size,
 * so the figure measures the model and the method, not image decoding.
 */
export async function benchMethod(engine: Engine, modelPath: string, method: MethodName | 'predict', runs: number, options: MethodOptions = {}, warmup = 2): Promise<BenchResult> {
  const { model, loadMs } = await engine.model(modelPath);
  const rand = uniformRandom(1);
  const values = Float32Array.from({ length: model.height * model.width * model.channels }, () => rand());
  const x = tf.tensor4d(values, [1, model.height, model.width, model.channels]);
  const once = async (): Promise<number> => {
    const start = performance.now();
    if (method === 'predict') {
      tf.tidy(() => model.logits(x, { release: true }).dataSync());
    } else {
      const out = await runMethod(method, model, x, [0], { options });
      await out.attribution.data();
      out.attribution.dispose();
    }
    return performance.now() - start;
  };
  let peak = process.memoryUsage().rss;
  try {
    for (let i = 0; i < warmup; i++) await once();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      times.push(await once());
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    return {
      model: modelPath, method, backend: engine.backend, threads: backendThreads(), runs, loadMs, medianMs: median(times),
      minMs: Math.min(...times), maxMs: Math.max(...times), peakRssMb: peak / 2 ** 20,
    };
  } finally {
    x.dispose();
  }
}
