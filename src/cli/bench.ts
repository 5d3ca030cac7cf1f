/** `saliency-lens bench`: warm latency of one method on one model, for measurements outside the project. */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../shared/errors';
import type { FeatureVisOptions, MethodName, MethodOptions } from '../shared/protocol';
import type { Engine } from '../engine/engine';
import { runMethod, parseMethod } from '../engine/methods';
import { uniformRandom } from '../engine/methods/sampling';
import { choosePreprocess } from '../engine/image/settings';
import { DEFAULT_PREPROCESS } from '../engine/model';
import { dreamOnModel, visualizeModelFilters } from '../engine/featureVis';
import { methodOptions, numberOption, type CliArgs } from './args';
import { backendKernelThreads, backendThreads } from '../engine/backend';
import { kernelWorkerPieces } from '../engine/kernels/kernelThreads';
import { featureVisOptions } from './filters';
import { countOf } from '../shared/text';

/** Feature visualisations `bench` can time: one filter picture (`filters`) and one whole-layer dream (`dream`). */
export const FEATURE_VIS_BENCH = ['activation-maximization', 'deep-dream'] as const;
/** A feature visualisation `bench` can time. */
export type FeatureVisBench = (typeof FEATURE_VIS_BENCH)[number];

/**
 * Steps of a feature-visualisation warm-up run: enough to pay the first-call costs of every shape (each
 * octave of a dream included) without doubling the cost of a process.
 */
export const FEATURE_VIS_WARMUP_STEPS = 2;

/** What one bench run measured. */
export interface BenchResult {
  model: string;
  method: MethodName | 'predict' | FeatureVisBench;
  backend: string;
  /** Threads the backend computes with (undefined: native TensorFlow's own pool). */
  threads?: number;
  /** Gradient helper threads that computed chunks of the timed runs, and how many chunks per run. */
  helpers?: { threads: number; chunksPerRun: number };
  /** Kernel threads that ran pieces of our kernels in the timed runs, and how many pieces per run. */
  kernelThreads?: { threads: number; piecesPerRun: number };
  runs: number;
  loadMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Every timed run, in order. */
  timesMs: number[];
  peakRssMb: number;
  /** Feature visualisation: the layer, optimisation steps in all, image side(s), and the steady-state time per step. */
  layer?: string;
  steps?: number;
  size?: number[];
  perStepMs?: number;
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Runs `once` after `warmup` untimed calls of `warm`, and summarises the timed runs. The peak RSS is the
 * process's high-water mark (loading, warm-up and transient peaks inside a run included).
 */
async function timeRuns<T extends { ms: number }>(warm: () => Promise<unknown>, once: () => Promise<T>, runs: number, warmup: number): Promise<{ times: number[]; last: T[]; peakRssMb: number }> {
  for (let i = 0; i < warmup; i++) await warm();
  const last: T[] = [];
  for (let i = 0; i < runs; i++) last.push(await once());
  // maxRSS is in KiB; the sampled RSS covers platforms where it is 0.
  const peak = Math.max(process.resourceUsage().maxRSS * 1024, process.memoryUsage().rss);
  return { times: last.map((r) => r.ms), last, peakRssMb: peak / 2 ** 20 };
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
  const once = async (): Promise<{ ms: number }> => {
    const start = performance.now();
    if (method === 'predict') {
      tf.tidy(() => model.logits(x, { release: true }).dataSync());
    } else {
      const out = await runMethod(method, model, x, [0], { options, helpers: engine.helpers });
      await out.attribution.data();
      out.attribution.dispose();
    }
    return { ms: performance.now() - start };
  };
  try {
    let helperChunks = 0;
    const pieces = kernelPieceCounter();
    const timed = async (): Promise<{ ms: number }> => {
      const before = engine.helpers.chunksByHelpers;
      const r = await pieces.during(once);
      helperChunks += engine.helpers.chunksByHelpers - before;
      return r;
    };
    const { times, peakRssMb } = await timeRuns(once, timed, runs, warmup);
    return {
      model: modelPath, method, backend: engine.backend, threads: backendThreads(), runs, loadMs, medianMs: median(times),
      minMs: Math.min(...times), maxMs: Math.max(...times), timesMs: times, peakRssMb,
      ...(helperChunks > 0 ? { helpers: { threads: engine.helpers.size, chunksPerRun: helperChunks / runs } } : {}),
      ...pieces.report(runs),
    };
  } finally {
    x.dispose();
  }
}

/** Counts the pieces kernel threads ran during timed runs, for the `kernelThreads` field of a result. */
function kernelPieceCounter(): { during<T>(run: () => Promise<T>): Promise<T>; report(runs: number): Pick<BenchResult, 'kernelThreads'> } {
  let pieces = 0;
  return {
    async during(run) {
      const before = kernelWorkerPieces();
      const r = await run();
      pieces += kernelWorkerPieces() - before;
      return r;
    },
    report: (runs) => (pieces > 0 ? { kernelThreads: { threads: backendKernelThreads(), piecesPerRun: pieces / runs } } : {}),
  };
}

/**
 * Times one feature visualisation with the defaults of `saliency-lens filters` (filter 0 of `layer`: one image,
 * Fourier parameterisation, transforms, Adam) or `saliency-lens dream` (the whole layer, octaves, on seeded
 * noise of the model's size). Warm-up runs are the same call with FEATURE_VIS_WARMUP_STEPS steps. Each run
 * also records the time per step from the end of its first step to the end of its last.
 */
export async function benchFeatureVis(engine: Engine, modelPath: string, method: FeatureVisBench, layer: string, runs: number,
  options: FeatureVisOptions = {}, warmup = 1): Promise<BenchResult> {
  const { model, loadMs } = await engine.model(modelPath);
  const { preprocess } = choosePreprocess(undefined, model.settings, DEFAULT_PREPROCESS);
  const rand = uniformRandom(1);
  const start = { width: model.width, height: model.height, data: Uint8Array.from({ length: model.width * model.height * 3 }, () => Math.floor(256 * rand())) };
  const once = async (o: FeatureVisOptions): Promise<{ ms: number; perStepMs: number; steps: number; layer: string; size: number[] }> => {
    const stamps: number[] = [];
    const hooks = {
      onProgress: () => void stamps.push(performance.now()),
      checkpoint: () => new Promise<void>((r) => setImmediate(r)),
    };
    const t0 = performance.now();
    const r = method === 'activation-maximization'
      ? await visualizeModelFilters(model, preprocess, layer, [0], undefined, o, hooks)
      : await dreamOnModel(model, preprocess, start, layer, undefined, o, hooks);
    const ms = performance.now() - t0;
    const perStepMs = stamps.length > 1 ? (stamps[stamps.length - 1] - stamps[0]) / (stamps.length - 1) : ms / Math.max(1, stamps.length);
    return { ms, perStepMs, steps: stamps.length, layer: r.layer, size: method === 'activation-maximization' ? [r.options.height, r.options.width] : [model.height, model.width] };
  };
  const short = { ...options, steps: Math.min(options.steps ?? FEATURE_VIS_WARMUP_STEPS, FEATURE_VIS_WARMUP_STEPS) };
  const pieces = kernelPieceCounter();
  const { times, last, peakRssMb } = await timeRuns(() => once(short), () => pieces.during(() => once(options)), runs, warmup);
  return {
    model: modelPath, method, backend: engine.backend, threads: backendThreads(), runs, loadMs, medianMs: median(times),
    minMs: Math.min(...times), maxMs: Math.max(...times), timesMs: times, peakRssMb, ...pieces.report(runs),
    layer: last[0].layer, steps: last[0].steps, size: last[0].size, perStepMs: median(last.map((r) => r.perStepMs)),
  };
}

/** `saliency-lens bench`: prints one BenchResult (text or --json). */
export async function benchCommand(engine: Engine, args: CliArgs, modelPath: string): Promise<void> {
  const methodName = args.values.method ?? 'vanilla';
  const runs = Math.round(numberOption(args.values.runs, '--runs', 1, 10000, 10));
  const warmup = Math.round(numberOption(args.values.warmup, '--warmup', 0, 100, 2));
  let result: BenchResult;
  if ((FEATURE_VIS_BENCH as readonly string[]).includes(methodName)) {
    if (!args.values.layer) throw new BadInputError('--layer', `is required for ${methodName} (list the layers with 'saliency-lens layers')`);
    result = await benchFeatureVis(engine, modelPath, methodName as FeatureVisBench, args.values.layer, runs, featureVisOptions(args.values), warmup);
  } else {
    const method = methodName === 'predict' ? 'predict' : parseMethod(methodName);
    result = await benchMethod(engine, modelPath, method, runs, methodOptions(args.values), warmup);
  }
  if (args.values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const fv = result.perStepMs !== undefined ? ` (${result.layer}, ${result.steps} steps at ${result.size?.join('×')}, ${result.perStepMs.toFixed(1)} ms per step)` : '';
  const kernel = result.kernelThreads ? ` + ${countOf(result.kernelThreads.threads, 'kernel thread')} (${result.kernelThreads.piecesPerRun.toFixed(0)} pieces per run)` : '';
  const helpers = (result.helpers ? ` + ${countOf(result.helpers.threads, 'gradient helper')} (${result.helpers.chunksPerRun.toFixed(1)} chunks per run)` : '') + kernel;
  console.log(`${result.method} on ${result.model} (${result.backend}${result.threads ? `, ${countOf(result.threads, 'thread')}` : ''}${helpers})${fv}: median ${result.medianMs.toFixed(1)} ms, min ${result.minMs.toFixed(1)}, max ${result.maxMs.toFixed(1)} over ${result.runs} warm runs; load ${result.loadMs.toFixed(0)} ms; peak RSS ${result.peakRssMb.toFixed(0)} MB`);
}
