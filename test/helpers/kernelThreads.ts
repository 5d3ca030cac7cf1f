// Shared by the kernel-thread tests: the gate, waiting for the worker, and exact comparisons.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { threadsLabel } from '../../src/engine/backend';
import { kernelThreadsNote, kernelWorkerPieces, setKernelThreadsGate } from '../../src/engine/kernels/kernelThreads';
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
