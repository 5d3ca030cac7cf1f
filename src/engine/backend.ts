/** Chooses the TensorFlow.js backend at run time: tfjs-node if it loads, else wasm, else cpu. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { BackendName } from '../shared/protocol';
import { BadInputError } from '../shared/errors';
import { countOf } from '../shared/text';
import { kernelThreadsNote, kernelWorkersWanted, setKernelWorkers } from './kernels/kernelThreads';
import { registerMissingKernels } from './kernels/register';
import { installThreadedWasm, MAX_WASM_THREADS, threadedWasmFallback } from './wasmThreads';

/** The environment variable that forces a backend. */
export const BACKEND_ENV = 'SALIENCY_LENS_BACKEND';
/** The environment variable that sets the wasm backend's threads (1: the single-threaded build). */
export const THREADS_ENV = 'SALIENCY_LENS_THREADS';
/** Default threads at most: beyond 4 the per-layer work of these models is too small to split further. */
const DEFAULT_THREADS_CAP = 4;
/** The environment variable with the number of gradient helper threads ('' or 'auto': automatic). */
export const WORKERS_ENV = 'SALIENCY_LENS_WORKERS';
/** The most gradient helpers: each holds a model copy, and competes with the engine's threads for cores. */
export const MAX_GRADIENT_WORKERS = 3;

/** The environment variable with the number of kernel threads beside the engine's thread ('' or 'auto': automatic). */
export const KERNEL_WORKERS_ENV = 'SALIENCY_LENS_KERNEL_WORKERS';

let threadsOption: number | undefined;
let workersOption: number | undefined;
let kernelWorkersOption: number | undefined;

/** Parses a whole number from `min` to `max` or "auto" (undefined) from an option or the environment. */
function parseCount(value: string | undefined, subject: string, min: number, max: number, what: string): number | undefined {
  if (value === undefined || value === '' || value === 'auto') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new BadInputError(subject, `"${value}" is not ${what} from ${min} to ${max} (or auto)`);
  }
  return n;
}

/** Parses a thread count from an option or the environment (undefined: automatic). */
export function parseThreads(value: string | undefined, subject: string): number | undefined {
  return parseCount(value, subject, 1, MAX_WASM_THREADS, 'a whole number of threads');
}

/** Sets the wasm threads (an option outranks SALIENCY_LENS_THREADS); takes effect when the backend starts. */
export function setWasmThreads(threads: number | undefined): void {
  threadsOption = threads;
}

/** The wasm threads asked for: the option, else SALIENCY_LENS_THREADS, else automaticWasmThreads(). */
export function wantedWasmThreads(): number {
  const cores = availableParallelism();
  return threadsOption ?? parseThreads(process.env[THREADS_ENV], THREADS_ENV) ?? automaticWasmThreads(cores, wantedGradientWorkers('wasm', cores));
}

/**
 * Half the cores, at most 4, and at least 2 unless gradient helpers run beside them. XNNPACK's thread pool
 * waits for its slowest thread at every op, so a pool as wide as a big machine stalls whenever VS Code takes a
 * core. On 2 vCPUs two threads make single maps 7–14 % faster than one, but a helper beside them takes a core
 * from the pool at every op: one engine thread plus one helper ran SmoothGrad and IG faster on all three bench
 * models (MobileNetV2 SmoothGrad 1.20 s, against 1.34 s on two threads alone and 1.57 s with both).
 */
export function automaticWasmThreads(cores: number, helpers = 0): number {
  const half = Math.floor(cores / 2);
  return Math.min(cores, Math.max(helpers > 0 ? 1 : 2, half), DEFAULT_THREADS_CAP);
}

/** Parses a gradient helper count from an option or the environment (undefined: automatic). */
export function parseWorkers(value: string | undefined, subject: string): number | undefined {
  return parseCount(value, subject, 0, MAX_GRADIENT_WORKERS, 'a number of gradient workers');
}

/** Sets the gradient helpers (an option outranks SALIENCY_LENS_WORKERS); takes effect when the engine starts. */
export function setGradientWorkers(workers: number | undefined): void {
  workersOption = workers;
}

/**
 * One helper on machines with 2 or more cores for the wasm and cpu backends (native TensorFlow already uses
 * every core); none otherwise.
 */
export function automaticWorkers(backend: BackendName, cores: number): number {
  return backend !== 'node' && cores >= 2 ? 1 : 0;
}

/** The gradient helpers asked for: the option, else SALIENCY_LENS_WORKERS, else automaticWorkers(). */
export function wantedGradientWorkers(backend: BackendName, cores = availableParallelism()): number {
  return workersOption ?? parseWorkers(process.env[WORKERS_ENV], WORKERS_ENV) ?? automaticWorkers(backend, cores);
}

/** Sets the kernel threads (gradient helpers set 0: they leave the other cores to the engine). */
export function setKernelWorkersOption(workers: number | undefined): void {
  kernelWorkersOption = workers;
}

/**
 * Worker threads for our own wasm kernels beside the engine's thread: one when a core is left over by the wasm
 * threads (XNNPACK's pool) and those are few enough for our Winograd kernels to run (≤ 2), else none.
 */
export function automaticKernelWorkers(cores: number, wasmThreads: number): number {
  return wasmThreads < cores && wasmThreads <= 2 ? 1 : 0;
}

/** The most kernel threads: our kernels split well in two; more would mostly wait for memory (untested here). */
export const MAX_KERNEL_WORKERS = 1;

/** Parses a kernel thread count from an option or the environment (undefined: automatic). */
export function parseKernelWorkers(value: string | undefined, subject: string): number | undefined {
  return parseCount(value, subject, 0, MAX_KERNEL_WORKERS, 'a number of kernel threads');
}

/** The kernel threads asked for: the option, else SALIENCY_LENS_KERNEL_WORKERS, else automaticKernelWorkers(). */
export function wantedKernelWorkers(wasmThreads: number): number {
  return kernelWorkersOption ?? parseKernelWorkers(process.env[KERNEL_WORKERS_ENV], KERNEL_WORKERS_ENV) ?? automaticKernelWorkers(availableParallelism(), wasmThreads);
}

const TF_NAMES: Record<BackendName, string> = { node: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

function loadNodeBinding(): boolean {
  try {
    // Optional native TensorFlow: absent where its install script could not download libtensorflow.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

async function tryBackend(name: BackendName): Promise<boolean> {
  if (name === 'node' && !loadNodeBinding()) return false;
  if (name === 'wasm') {
    // When bundled, the .wasm binaries are copied next to the bundle; unbundled, the package finds its own.
    if (existsSync(join(__dirname, 'tfjs-backend-wasm-simd.wasm'))) setWasmPaths(__dirname + '/');
    const threads = wantedWasmThreads();
    const kernelWorkers = wantedKernelWorkers(threads);
    // Kernel threads need the threaded build's shared memory even when XNNPACK runs on one thread.
    installThreadedWasm(threads, kernelWorkers > 0);
    setKernelWorkers(kernelWorkers);
  }
  try {
    const ok = await tf.setBackend(TF_NAMES[name]);
    // The cpu backend advertises tfjs-node on its first write; we already chose and report the backend.
    const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
    if (cpu) cpu.firstUse = false;
    return ok;
  } catch {
    return false;
  }
}

/** Parses a backend name from an option or the environment. */
export function parseBackendName(value: string | undefined, subject: string): BackendName | 'auto' {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'node' || value === 'wasm' || value === 'cpu') return value;
  throw new BadInputError(subject, `unknown backend "${value}" (expected node, wasm, cpu or auto)`);
}

/**
 * Initialises TF.js on the preferred backend (option, else the SALIENCY_LENS_BACKEND variable, else auto)
 * and returns the one in use. A forced backend that cannot start is an error, not a silent fallback.
 */
export async function initBackend(preference?: BackendName | 'auto'): Promise<BackendName> {
  const pref = preference && preference !== 'auto' ? preference : parseBackendName(process.env[BACKEND_ENV], BACKEND_ENV);
  if (pref !== 'auto') {
    if (!(await tryBackend(pref))) throw new BadInputError(`backend ${pref}`, 'could not be initialised on this machine');
    registerMissingKernels();
    return pref;
  }
  for (const name of ['node', 'wasm', 'cpu'] as const) {
    if (await tryBackend(name)) {
      registerMissingKernels();
      return name;
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}

/** The backend currently in use, in our naming. */
export function currentBackend(): BackendName {
  const b = tf.getBackend();
  return b === 'tensorflow' ? 'node' : (b as BackendName);
}

/** Threads computing on the current backend: the wasm pool's size, 1 on cpu, undefined for native TensorFlow. */
export function backendThreads(): number | undefined {
  const b = currentBackend();
  if (b === 'wasm') return getThreadsCount();
  return b === 'cpu' ? 1 : undefined;
}

/** Worker threads our wasm kernels split across beside the engine's thread (0: off, unavailable, or not wasm). */
export function backendKernelThreads(): number {
  return currentBackend() === 'wasm' && !threadedWasmFallback() ? kernelWorkersWanted() : 0;
}

/** "2 threads" or "1 thread + 1 kernel thread" for logs and text output; undefined for native TensorFlow. */
export function threadsLabel(): string | undefined {
  const threads = backendThreads();
  if (threads === undefined) return undefined;
  const kernel = backendKernelThreads();
  return countOf(threads, 'thread') + (kernel ? ` + ${countOf(kernel, 'kernel thread')}` : '');
}

/** Why the wasm backend runs single-threaded although more threads were asked for (for --debug), if it does. */
export function threadsNote(): string | undefined {
  if (currentBackend() !== 'wasm') return undefined;
  const reason = threadedWasmFallback();
  if (reason) return `threaded wasm backend unavailable (${reason}); using 1 thread`;
  const wanted = wantedWasmThreads();
  const got = getThreadsCount();
  const kernel = kernelThreadsNote();
  return got < wanted ? `asked for ${wanted} wasm threads, got ${got}` : kernel;
}
