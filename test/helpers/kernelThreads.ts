// Shared by the kernel-thread tests: the gate, waiting for the worker, and exact comparisons.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setKernelWorkersOption, setWasmThreads, threadsLabel } from '../../src/engine/backend';
import { kernelThreadsNote, kernelWorkerPieces, setKernelThreadsGate, stopKernelThreads } from '../../src/engine/kernels/kernelThreads';
import { matMulBias } from '../../src/engine/kernels/matmul_bias';

/** Runs `f` with kernel threads allowed or not (the gate), returning its values. */
export function withThreads<T>(on: boolean, f: () => T): T {
  setKernelThreadsGate(() => on);
  try {
    return f();
  } finally {
    setKernelThreadsGate(() => true);
  }
}

/** Waits until the worker has started (it starts at the first job big enough to split). */
export async function workerReady(): Promise<void> {
  for (let i = 0; i < 200 && !threadsLabel()?.includes('kernel'); i++) await new Promise((r) => setTimeout(r, 10));
  const a = tf.ones([256, 256]);
  for (let i = 0; i < 300; i++) {
    const before = kernelWorkerPieces();
    tf.tidy(() => matMulBias(a, a).dataSync());
    if (kernelWorkerPieces() > before) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  a.dispose();
  assert.ok(kernelWorkerPieces() > 0, `the kernel thread never took a piece (${kernelThreadsNote() ?? 'no reason given'})`);
}

/** The float32 bits of a tensor's values, for bit-for-bit comparisons. */
export const bits = (t: tf.Tensor): Uint32Array => new Uint32Array(Float32Array.from(t.dataSync()).buffer);

/** The skip option of a suite that needs kernel threads (false where they can run). */
export const KERNEL_THREADS_SKIP: false | string = typeof SharedArrayBuffer !== 'undefined' ? false : 'no SharedArrayBuffer: no kernel threads';

/** Hooks that run the wasm backend with one XNNPACK thread and one kernel thread (the 2-core automatic choice). */
export const kernelThreadHooks = {
  async start(): Promise<void> {
    setWasmThreads(1);
    setKernelWorkersOption(1);
    await initBackend('wasm');
    await workerReady();
  },
  stop: (): void => stopKernelThreads(),
};
