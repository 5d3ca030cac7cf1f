/** One measurement per child process: Saliency Lens through its CLI, PyTorch through bench/torch_reference.py. */
import { join } from 'node:path';
import type { BenchModel } from './models';
import { parseJsonOutput, runChild } from './proc';
import type { Sample } from './report';

/** How a method is measured. */
export interface MethodSpec {
  /** The --method name, shared by the CLI and torch_reference.py. */
  id: string;
  /**
   * Multi-pass methods (25–50 gradients per map): one timed map per process (after the warm-up maps), or with
   * `heavyFirst` the first map of a fresh process, after the forward pass `saliency-lens explain` runs.
   */
  heavy: boolean;
  /** Whether bench/torch_reference.py implements it. */
  torch: boolean;
  /**
   * Feature visualisation: timed with `saliency-lens bench --layer` at the model's mid layer (one timed run
   * after one warm-up run of 2 steps; none with `heavyFirst`); `steps` is the engine's default per image or
   * octave, passed to PyTorch so that both sides take the same number of steps.
   */
  featureVis?: { steps: number };
}

/** Where and how the children run. */
export interface MeasureContext {
  root: string;
  /** The bundled CLI (dist/cli.js). */
  cli: string;
  /** Python with torch, or undefined. */
  python?: string;
  /** Forced TF.js backend for our side, or undefined for the CLI's choice. */
  backend?: string;
  /** `--threads` for our side (wasm), or undefined for the CLI's default. */
  threads?: number;
  /** Timed runs per process for the cheap methods. */
  runs: number;
  torchThreads: number;
  /** Image for `explain` (the demo image; the content does not change the work). */
  image: string;
  /** Scratch folder for the pictures `explain` writes. */
  outDir: string;
  timeoutMs: number;
  /** Heavy methods: time the first map of a fresh process (includes first-call costs; a third of the cost). */
  heavyFirst: boolean;
  /** Warm-up maps per process; undefined: the CLI's own (2), when its bench command has no --warmup. */
  warmup?: number;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

function oursArgs(ctx: MeasureContext): string[] {
  return [...(ctx.backend ? ['--backend', ctx.backend] : []), ...(ctx.threads ? ['--threads', String(ctx.threads)] : [])];
}

/**
 * The backend with its thread count when the CLI reports one ("wasm 2T"), and the gradient helpers ("+1H") or
 * kernel threads ("+1K") that took part.
 */
const backendOf = (j: Record<string, unknown>): string => {
  const helpers = (j.helpers as { threads?: number } | undefined)?.threads;
  const kernel = (j.kernelThreads as { threads?: number } | undefined)?.threads;
  return `${String(j.backend)}${typeof j.threads === 'number' ? ` ${j.threads}T` : ''}${helpers ? ` +${helpers}H` : ''}${kernel ? ` +${kernel}K` : ''}`;
};

/** Our warm latency with `cli bench`, or for heavy methods with `heavyFirst` the attribution time of `cli explain`. */
export async function measureOurs(ctx: MeasureContext, model: BenchModel, method: MethodSpec): Promise<Sample> {
  if (method.featureVis) {
    const args = [ctx.cli, 'bench', '--model', model.path, '--method', method.id, '--layer', model.featureLayer.ours, '--runs', '1',
      '--warmup', ctx.heavyFirst ? '0' : '1', '--json', ...oursArgs(ctx)];
    const r = await runChild(process.execPath, args, { cwd: ctx.root, timeoutMs: ctx.timeoutMs });
    const j = parseJsonOutput(r, `saliency-lens bench ${model.id} ${method.id}`);
    return {
      medianMs: num(j.medianMs), minMs: num(j.minMs), maxMs: num(j.maxMs), loadMs: num(j.loadMs),
      peakRssMb: Number.isFinite(r.peakRssMb) ? r.peakRssMb : num(j.peakRssMb), backend: backendOf(j),
      extra: { runs: j.runs, wallMs: r.wallMs, layer: j.layer, steps: j.steps, perStepMs: j.perStepMs, size: j.size },
    };
  }
  if (!method.heavy || !ctx.heavyFirst) {
    const runs = method.heavy ? 1 : ctx.runs;
    const count = method.heavy ? heavyWarmup(ctx) : ctx.warmup;
    const warmup = count === undefined ? [] : ['--warmup', String(count)];
    const args = [ctx.cli, 'bench', '--model', model.path, '--method', method.id, '--runs', String(runs), ...warmup, '--json', ...oursArgs(ctx)];
    const r = await runChild(process.execPath, args, { cwd: ctx.root, timeoutMs: ctx.timeoutMs });
    const j = parseJsonOutput(r, `saliency-lens bench ${model.id} ${method.id}`);
    return {
      medianMs: num(j.medianMs), minMs: num(j.minMs), maxMs: num(j.maxMs), loadMs: num(j.loadMs),
      peakRssMb: Number.isFinite(r.peakRssMb) ? r.peakRssMb : num(j.peakRssMb), backend: backendOf(j),
      extra: { runs: j.runs, wallMs: r.wallMs },
    };
  }
  const args = [ctx.cli, 'explain', ctx.image, '--model', model.path, '--method', method.id, '--json', '--out', ctx.outDir, ...oursArgs(ctx)];
  const r = await runChild(process.execPath, args, { cwd: ctx.root, timeoutMs: ctx.timeoutMs });
  const j = parseJsonOutput(r, `saliency-lens explain ${model.id} ${method.id}`);
  const timing = (j.timingMs ?? {}) as Record<string, unknown>;
  const t = num(timing.attribution);
  return {
    medianMs: t, minMs: t, maxMs: t, loadMs: num(timing.load), peakRssMb: r.peakRssMb, backend: backendOf(j),
    extra: { runs: 1, wallMs: r.wallMs, layer: j.layer },
  };
}

function torchArgs(ctx: MeasureContext, model: BenchModel, method: string, runs: number, warmup: number): string[] {
  const args = [join(ctx.root, 'bench', 'torch_reference.py'), '--arch', model.arch, '--method', method, '--runs', String(runs),
    '--warmup', String(warmup), '--threads', String(ctx.torchThreads)];
  if (model.arch === 'keras') args.push('--model', model.path);
  return args;
}

/**
 * Warm-up maps before a heavy row's timed map, on both sides: one more than the others get, because the engine's
 * gradient helper starts loading the model when the first map ends and, maps following each other without a
 * pause, takes part from the third on (the steady state of an engine).
 */
export function heavyWarmup(ctx: MeasureContext): number {
  return (ctx.warmup ?? 2) + 1;
}

/** PyTorch's warm latency for the same model and method, with the same warm-up scheme as ours. */
export async function measureTorch(ctx: MeasureContext, model: BenchModel, method: MethodSpec): Promise<Sample> {
  if (!ctx.python) throw new Error('no PyTorch');
  const warmup = ctx.warmup ?? 2;
  const args = method.featureVis
    ? [...torchArgs(ctx, model, method.id, 1, ctx.heavyFirst ? 0 : 1), '--layer', model.featureLayer.torch, '--fv-steps', String(method.featureVis.steps)]
    : !method.heavy ? torchArgs(ctx, model, method.id, ctx.runs, warmup)
      : torchArgs(ctx, model, method.id, 1, ctx.heavyFirst ? 0 : heavyWarmup(ctx));
  const r = await runChild(ctx.python, args, { cwd: ctx.root, timeoutMs: ctx.timeoutMs });
  const j = parseJsonOutput(r, `torch_reference.py ${model.id} ${method.id}`);
  return {
    medianMs: num(j.medianMs), minMs: num(j.minMs), maxMs: num(j.maxMs), loadMs: num(j.loadMs),
    peakRssMb: Number.isFinite(r.peakRssMb) ? r.peakRssMb : num(j.peakRssMb), backend: String(j.backend),
    extra: { impl: j.impl, threads: j.threads, layer: j.layer, checkMaxAbsDiff: j.checkMaxAbsDiff, wallMs: r.wallMs, steps: j.steps, perStepMs: j.perStepMs },
  };
}

/** Process start → first vanilla map with `saliency-lens explain --json` (the JSON is printed once the map is written). */
export async function coldOurs(ctx: MeasureContext, model: BenchModel): Promise<{ wallMs: number; loadMs: number; inferenceMs: number; attributionMs: number }> {
  const args = [ctx.cli, 'explain', ctx.image, '--model', model.path, '--method', 'vanilla', '--json', '--out', ctx.outDir, ...oursArgs(ctx)];
  const r = await runChild(process.execPath, args, { cwd: ctx.root, timeoutMs: ctx.timeoutMs });
  const j = parseJsonOutput(r, `saliency-lens explain ${model.id} (cold)`);
  const t = (j.timingMs ?? {}) as Record<string, unknown>;
  return { wallMs: r.firstOutputMs, loadMs: num(t.load), inferenceMs: num(t.inference), attributionMs: num(t.attribution) };
}

/** Python start → first vanilla map with torch_reference.py (import torch, build the model, forward, gradient). */
export async function coldTorch(ctx: MeasureContext, model: BenchModel): Promise<{ wallMs: number; importMs: number; loadMs: number }> {
  if (!ctx.python) throw new Error('no PyTorch');
  const r = await runChild(ctx.python, [...torchArgs(ctx, model, 'vanilla', 1, 0), '--cold'], { cwd: ctx.root, timeoutMs: ctx.timeoutMs });
  const j = parseJsonOutput(r, `torch_reference.py ${model.id} (cold)`);
  return { wallMs: r.firstOutputMs, importMs: num(j.importMs), loadMs: num(j.loadMs) };
}
