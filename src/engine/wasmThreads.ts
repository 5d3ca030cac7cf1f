/**
 * The multithreaded SIMD build of the TF.js wasm backend in Node. The package never picks it there (its
 * WASM_HAS_MULTITHREAD_SUPPORT flag is false under Node) and its loader hands emscripten blob: URLs that
 * worker_threads cannot load, so we create the emscripten module ourselves from files on disk and register it
 * as the 'wasm' backend; kernels and memory layout are the package's own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runInThisContext } from 'node:vm';
import type { Worker } from 'node:worker_threads';

/** The most threads the build can use: it preallocates 8 pthread workers and XNNPACK caps its pool at 8. */
export const MAX_WASM_THREADS = 8;

/** The files the threaded build needs at run time; scripts/build.mjs copies or builds them beside the bundles. */
export const THREADED_WASM_FILES = {
  main: 'tfjs-backend-wasm-threaded-simd.js',
  wasm: 'tfjs-backend-wasm-threaded-simd.wasm',
  worker: 'wasm-thread-worker.js',
} as const;

interface EmscriptenModule {
  cwrap(name: string, returns: string | null, args: string[]): (...args: number[]) => number;
  PThread: { unusedWorkers: Worker[]; runningWorkers: Worker[] };
  tfjs?: Record<string, (...args: number[]) => number>;
}
type Imports = { env: Record<string, unknown> };
// The compiler's lib (no DOM) does not declare Node's WebAssembly global; we need one call of it.
const webAssembly = (globalThis as unknown as { WebAssembly: { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: object; module: object }> } }).WebAssembly;
type Factory = (config: object) => Promise<EmscriptenModule>;
type WorkerWithHandler = Worker & { onerror?: (e: unknown) => void };

function threadedFiles(): { main: string; wasm: string; worker: string } {
  const bundled = join(__dirname, THREADED_WASM_FILES.worker);
  if (existsSync(bundled)) {
    return { main: join(__dirname, THREADED_WASM_FILES.main), wasm: join(__dirname, THREADED_WASM_FILES.wasm), worker: bundled };
  }
  // Run from source (tests under tsx): the package's own files and the TypeScript worker entry beside this file.
  const req = createRequire(__filename);
  return {
    main: req.resolve(`@tensorflow/tfjs-backend-wasm/wasm-out/${THREADED_WASM_FILES.main}`),
    wasm: req.resolve(`@tensorflow/tfjs-backend-wasm/dist/${THREADED_WASM_FILES.wasm}`),
    worker: join(__dirname, 'wasmThreadWorker.cjs'),
  };
}

/**
 * Loads emscripten's main script (workers load the same file as mainScriptUrlOrBlob). The build starts a pool of
 * 8 workers up front, a Node isolate each, which costs seconds on a busy machine; XNNPACK needs threads − 1
 * of them, and the pool must hold them all before it starts (a worker started later could not report in while
 * the main thread waits for it). The pool size only matters on the main thread, so only its copy is resized.
 */
function loadFactory(file: string, poolSize: number): Factory {
  const code = readFileSync(file, 'utf8').replace('var pthreadPoolSize=8;', `var pthreadPoolSize=${poolSize};`);
  const module = { exports: {} as unknown };
  const wrapped = runInThisContext(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, { filename: file });
  (wrapped as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports as Factory;
}

/** How long the pthread workers may take to load before the threaded build is given up. */
const START_TIMEOUT_MS = 60_000;

async function createModule(threads: number): Promise<EmscriptenModule> {
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('SharedArrayBuffer is not available');
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) throw new Error('WebAssembly SIMD is not supported');
  const files = threadedFiles();
  for (const f of Object.values(files)) if (!existsSync(f)) throw new Error(`${f} is missing`);
  // emscripten never finishes starting with an empty pool; a worker XNNPACK does not take is terminated below.
  const factory = loadFactory(files.main, Math.max(1, threads - 1));
  const binary = readFileSync(files.wasm);
  const config: { PThread?: EmscriptenModule['PThread'] } & Record<string, unknown> = {};
  let workers: WorkerWithHandler[] = [];
  const fatal = new Map<WorkerWithHandler, WorkerWithHandler['onerror']>();
  let rejectStart: (e: Error) => void = () => undefined;
  const failed = (e: unknown): void => rejectStart(e instanceof Error ? e : new Error(String(e)));
  const started = new Promise<EmscriptenModule>((resolve, reject) => {
    rejectStart = reject;
    // emscripten makes this object the module and adds PThread to it.
    Object.assign(config, {
      locateFile: (path: string) => (path.endsWith('.worker.js') ? files.worker : path.endsWith('.wasm') ? files.wasm : path),
      mainScriptUrlOrBlob: files.main,
      // No console output from a failed start: the caller falls back to one thread and reports why.
      onAbort: (what: unknown) => failed(new Error(`aborted: ${String(what)}`)),
      instantiateWasm(imports: Imports, receive: (instance: object, module: object) => void) {
        // The build caps its thread pool at half the logical cores (it assumes two hardware threads per core).
        imports.env.emscripten_num_logical_cores = () => 2 * threads;
        webAssembly.instantiate(binary, imports).then((r) => {
          receive(r.instance, r.module);
          // emscripten rethrows a worker's error from its handler, which would end the process; while starting,
          // a failing worker only means we fall back (the handler is looked up when an error arrives).
          for (const w of workers) {
            fatal.set(w, w.onerror);
            w.onerror = failed;
          }
        }, failed);
        return {};
      },
    });
    void factory(config).then(resolve, failed);
    // The pool's workers exist once the factory returns; one failing before emscripten listens must not crash us.
    workers = [...(config.PThread?.unusedWorkers ?? [])];
    for (const w of workers) w.on('error', failed);
    setTimeout(() => failed(new Error(`pthread workers did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS).unref();
  });
  try {
    const module = await started;
    // From now on a worker's error is a crash of the computation: emscripten's handler reports and rethrows it.
    for (const w of workers) {
      w.off('error', failed);
      w.onerror = fatal.get(w);
    }
    return module;
  } catch (err) {
    for (const w of workers) void w.terminate();
    throw err;
  }
}

/** Starts the threaded build with `threads` threads (the calling thread included) as a wasm backend. */
async function createThreadedBackend(threads: number): Promise<tf.KernelBackend> {
  const module = await createModule(threads);
  // The bridge the package's own loader sets up; its kernels call these.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  setThreadsCount(threads);
  const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
  // XNNPACK's pool threads now run; the other preallocated workers would only hold memory.
  for (const w of module.PThread.unusedWorkers.splice(0)) void w.terminate();
  // A running pthread holds the event loop open; the CLI must exit when its work is done.
  for (const w of module.PThread.runningWorkers) w.unref();
  return backend;
}

let installed = false;
let fallbackReason: string | undefined;

/**
 * Makes the 'wasm' backend start the threaded build with `threads` threads (also for one thread when
 * `sharedMemory` is asked for, which kernel threads need), falling back to the package's
 * single-threaded loader if that fails (see threadedWasmFallback). Call before the wasm backend starts.
 */
export function installThreadedWasm(threads: number, sharedMemory = false): void {
  if (installed || (threads <= 1 && !sharedMemory)) return;
  const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
  if (registry.wasm) return; // already running single-threaded: replacing it would dispose live tensors
  const singleThreaded = tf.findBackendFactory('wasm');
  if (!singleThreaded) return;
  installed = true;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    try {
      return await createThreadedBackend(threads);
    } catch (err) {
      fallbackReason = err instanceof Error ? err.message : String(err);
      return singleThreaded();
    }
  }, 2);
}

/** Why the threaded build could not start (undefined if it did or was not tried). */
export function threadedWasmFallback(): string | undefined {
  return fallbackReason;
}
