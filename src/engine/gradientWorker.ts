/**
 * Entry point of a gradient helper thread: its own TF.js on one thread and its own copy of the model,
 * claiming chunks of the engine's multi-pass jobs (SmoothGrad, VarGrad, IG, occlusion, Score-CAM; see
 * gradientPool.ts).
 */
import { readlinkSync, statSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { oneLine } from '../shared/errors';
import { initBackend, setKernelWorkersOption, setWasmThreads } from './backend';
import type { EngineToHelper, GradientWorkerData, HelperMessage, JobMessage, LoadMessage } from './gradientWorkerProtocol';
import { setWinogradDecisionThreads } from './kernels/winograd';
import { chunkSums } from './methods/gradientJob';
import { LoadedModel } from './model';

const data = workerData as GradientWorkerData;
/** The nice value of a helper thread (0 normal, 19 lowest). */
const HELPER_NICE = 10;
const port = parentPort!;
let model: { path: string; mtimeMs: number; loaded: LoadedModel } | undefined;

function post(message: HelperMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** The job's model, loaded once and kept until a job names another (one copy: each costs its weights). */
async function modelFor(message: JobMessage | LoadMessage): Promise<LoadedModel> {
  if (model && model.path === message.modelPath && model.mtimeMs === message.mtimeMs) return model.loaded;
  model?.loaded.dispose();
  model = undefined;
  const loaded = await LoadedModel.load(message.modelPath);
  if (statSync(message.modelPath).mtimeMs !== message.mtimeMs) {
    loaded.dispose();
    throw new Error(`${message.modelPath} changed while loading`);
  }
  model = { path: message.modelPath, mtimeMs: message.mtimeMs, loaded };
  return loaded;
}

async function run(message: JobMessage): Promise<void> {
  const { id, job, chunks, claims } = message;
  const loaded = await modelFor(message);
  for (let index = Atomics.add(claims, 0, 1); index < chunks.length && Atomics.load(claims, 1) === 0; index = Atomics.add(claims, 0, 1)) {
    const parts = chunkSums(loaded, job, chunks[index][0], chunks[index][1]);
    // Copies: on the cpu backend dataSync returns the tensor's own array, which must not be transferred away.
    const sums = parts.map((t) => (t.dataSync() as Float32Array).slice());
    for (const t of parts) t.dispose();
    post({ type: 'chunk', id, index, sums }, sums.map((s) => s.buffer as ArrayBuffer));
  }
  post({ type: 'done', id });
}

// Jobs run one after another: a job's message waits in the port while the previous one runs.
let queue = Promise.resolve();

/**
 * Lowers this thread's scheduling priority (Linux: a thread is a task with its own nice value). The engine's
 * own threads then keep their cores: its thread pool waits for its slowest thread at every op, so a helper
 * taking a core from it would slow every op of the engine down; niced, the helper uses the time the engine
 * leaves idle (while one engine thread runs a single-threaded kernel, the other core is free).
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid)) setPriority(tid, HELPER_NICE);
  } catch {
    // Not Linux, or not allowed: the helper runs at normal priority.
  }
}

async function start(): Promise<void> {
  lowerPriority();
  setWasmThreads(1);
  setKernelWorkersOption(0);
  await initBackend(data.backend);
  setWinogradDecisionThreads(data.engineThreads);
  port.on('message', (message: EngineToHelper) => {
    const work = message.type === 'job'
      ? () => run(message)
      : async () => {
        const loaded = await modelFor(message);
        if (message.warmUp) tf.dispose(chunkSums(loaded, message.warmUp, 0, 1));
        post({ type: 'loaded', id: message.id });
      };
    queue = queue.then(work).catch((err: unknown) => {
      post({ type: 'failed', id: message.id, message: oneLine(err) });
      // A kernel that threw may have left the backend unusable: the engine replaces this helper.
      process.exit(1);
    });
  });
}

void start().catch((err: unknown) => {
  post({ type: 'failed', id: -1, message: `helper could not start: ${oneLine(err)}` });
  process.exit(1);
});
