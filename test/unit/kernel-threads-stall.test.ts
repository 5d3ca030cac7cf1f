// A kernel thread that never finishes its piece: the engine's thread gives up on it after the stall timeout,
// stops it, recomputes the job and runs later jobs alone. Its own file: it switches kernel threads off for the
// rest of the process (node --test runs each file in its own process).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { threadsLabel } from '../../src/engine/backend';
import { injectKernelThreadFault, kernelThreadsNote, kernelWorkerPieces, kernelWorkersAlive } from '../../src/engine/kernels/kernelThreads';
import { matMulBias } from '../../src/engine/kernels/matmul_bias';
import { randomTensor } from '../helpers/graphs';
import { bits, KERNEL_THREADS_SKIP, kernelThreadHooks, withThreads } from '../helpers/kernelThreads';


describe('a stalled kernel thread', { skip: KERNEL_THREADS_SKIP }, () => {
  before(kernelThreadHooks.start);
  after(kernelThreadHooks.stop);

  it('is stopped, the job is recomputed on the engine thread and later jobs run there alone', async () => {
    const a = randomTensor([512, 256], 31);
    const b = randomTensor([256, 128], 32);
    const want = withThreads(false, () => matMulBias(a, b));
    assert.equal(kernelWorkersAlive(), 1);
    injectKernelThreadFault('hang');
    // The worker may sleep through a short job; the one it wakes for stalls (for the 5 s timeout).
    for (let i = 0; i < 200 && !kernelThreadsNote(); i++) {
      const got = withThreads(true, () => matMulBias(a, b));
      assert.deepEqual(bits(got), bits(want), `run ${i}: the engine recomputed the job`);
      got.dispose();
    }
    assert.match(kernelThreadsNote() ?? '', /did not finish its piece within 5 s/);
    assert.doesNotMatch(threadsLabel() ?? '', /kernel/, 'no longer reported');
    for (let i = 0; i < 200 && kernelWorkersAlive() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(kernelWorkersAlive(), 0, 'the hung worker was stopped');
    const pieces = kernelWorkerPieces();
    const later = withThreads(true, () => matMulBias(a, b));
    assert.deepEqual(bits(later), bits(want));
    assert.equal(kernelWorkerPieces(), pieces, 'later jobs run on the engine thread alone');
    tf.dispose([a, b, want, later]);
  });
});
