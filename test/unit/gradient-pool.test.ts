// Gradient helper threads: SmoothGrad / VarGrad / IG / occlusion / Score-CAM computed partly on worker threads give
// bit-identical maps, survive a helper dying mid-job, stop on cancel, and stay out of the way when they do not pay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { testBackend } from '../helpers/backend';
import { randomTensor, tinyCnn } from '../helpers/graphs';
import { LoadedModel } from '../../src/engine/model';
import { runMethod, type MethodContext } from '../../src/engine/methods';
import { runGradientJob, type GradientHelpers } from '../../src/engine/methods/chunkRunner';
import { chunkSums, noiseOfPass, type GradientJob } from '../../src/engine/methods/gradientJob';
import { bytesPerImage, gaussianArray } from '../../src/engine/methods/sampling';
import { uniformRandom, uniformRandomFrom } from '../../src/shared/random';
import { GradientPool } from '../../src/engine/gradientPool';
import { automaticWasmThreads, automaticWorkers, parseWorkers } from '../../src/engine/backend';
import { disposeGraph } from '../../src/engine/graph/ir';
import { CancelledError } from '../../src/shared/errors';
import type { MethodName, MethodOptions } from '../../src/shared/protocol';

const DEMO_MODEL = join(__dirname, '..', '..', 'media', 'demo', 'model', 'model.json');

test('a pass\'s noise is found without drawing the passes before it, with the values of one long stream', () => {
  const stream = uniformRandom(11);
  const skipped = Array.from({ length: 5 }, () => stream());
  assert.equal(uniformRandomFrom(11, 5)(), stream(), 'uniformRandomFrom skips draws');
  assert.notEqual(skipped[4], uniformRandomFrom(11, 5)());
  // An odd size: Box–Muller draws in pairs, so each array consumes size + 1 uniforms.
  const size = 7;
  const rand = uniformRandom(9);
  for (let k = 0; k < 4; k++) assert.deepEqual(noiseOfPass(9, k, size, 0.3), gaussianArray(size, 0.3, rand), `pass ${k}`);
});

test('parseWorkers, automaticWorkers and the wasm threads beside helpers', () => {
  assert.equal(parseWorkers(undefined, '--workers'), undefined);
  assert.equal(parseWorkers('auto', '--workers'), undefined);
  assert.equal(parseWorkers('0', '--workers'), 0);
  assert.equal(parseWorkers('3', '--workers'), 3);
  assert.throws(() => parseWorkers('4', '--workers'), /--workers.*from 0 to 3/);
  assert.throws(() => parseWorkers('1.5', 'SALIENCY_LENS_WORKERS'), /SALIENCY_LENS_WORKERS/);
  assert.equal(automaticWorkers('wasm', 2), 1);
  assert.equal(automaticWorkers('cpu', 16), 1);
  assert.equal(automaticWorkers('wasm', 1), 0, 'one core: nothing to gain');
  assert.equal(automaticWorkers('node', 8), 0, 'native TensorFlow uses every core itself');
  // With a helper, the engine leaves it a core: one thread on 2 cores, half the cores above.
  assert.deepEqual([1, 2, 3, 4, 8, 16].map((c) => automaticWasmThreads(c, 1)), [1, 1, 1, 2, 4, 4]);
});

function noiseJob(x: tf.Tensor4D, count: number): GradientJob {
  return { kind: 'noise', sigma: 0.2, seed: 5, timesInput: false, x: x.dataSync() as Float32Array, shape: x.shape, target: 1, count, guided: false, squares: true };
}

/** Helpers in this thread: they claim like real ones, and "die" holding their `lose`-th claim. */
function fakeHelpers(model: LoadedModel, lose: number, stats: { delivered: number; lost: number[] }): GradientHelpers {
  return {
    helpersFor: () => 1,
    readyFor: () => 1,
    getReady: () => undefined,
    run: async (_m, job, chunks, claims, deliver) => {
      for (let claimed = 0; ; claimed++) {
        await new Promise((r) => setImmediate(r));
        const index = Atomics.add(claims, 0, 1);
        if (index >= chunks.length) return;
        if (claimed === lose) {
          stats.lost.push(index);
          return;
        }
        const parts = chunkSums(model, job, chunks[index][0], chunks[index][1]);
        deliver(index, parts.map((t) => Float32Array.from(t.dataSync())));
        parts.forEach((t) => t.dispose());
        stats.delivered++;
      }
    },
  };
}

test('chunks computed by helpers, or lost with a helper that died, give the same sums bit for bit', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(3));
  const x = randomTensor([1, 8, 8, 3], 4, 0, 1) as tf.Tensor4D;
  const job = noiseJob(x, 11);
  const slow: MethodContext = { checkpoint: () => new Promise((r) => setTimeout(r, 5)) };
  const alone = await runGradientJob(model, job, 2, slow, 'test');
  const before = tf.memory().numTensors;
  const stats = { delivered: 0, lost: [] as number[] };
  const helped = await runGradientJob(model, job, 2, { ...slow, helpers: fakeHelpers(model, 2, stats) }, 'test');
  assert.ok(stats.delivered >= 1, 'the helper computed chunks');
  assert.equal(stats.lost.length, 1, 'and died holding one');
  for (let i = 0; i < 2; i++) assert.deepEqual(helped[i].dataSync(), alone[i].dataSync());
  assert.equal(tf.memory().numTensors, before + 2, 'only the two sums are left');
  [...alone, ...helped].forEach((t) => t.dispose());
  x.dispose();
  disposeGraph(model.graph);
});

test('helpers are not used when their model copy would not leave one image of memory per thread', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(3));
  const x = randomTensor([1, 8, 8, 3], 4, 0, 1) as tf.Tensor4D;
  let runs = 0;
  const helpers: GradientHelpers = { helpersFor: () => 1, readyFor: () => 1, getReady: () => undefined, run: async () => void runs++ };
  const budget = model.residentBytes() + 1;
  const sums = await runGradientJob(model, noiseJob(x, 6), { model, pass: 'tight', budget }, { helpers }, 'test');
  assert.equal(runs, 0);
  sums.forEach((t) => t.dispose());
  const roomy = await runGradientJob(model, noiseJob(x, 6), { model, pass: 'tight', budget: 1e9 }, { helpers }, 'test');
  assert.equal(runs, 1, 'with room for a copy the helper is asked');
  roomy.forEach((t) => t.dispose());
  // A probe's bytes per image overestimate a little (the batch's fixed part over two images): a helper is still
  // asked when one side's share is 90 % of them, not at 80 %.
  const perImage = bytesPerImage(model, 'tight')!;
  for (const [share, runsAfter] of [[0.9, 2], [0.8, 2]] as const) {
    const near = await runGradientJob(model, noiseJob(x, 6), { model, pass: 'tight', budget: model.residentBytes() + 2 * share * perImage }, { helpers }, 'test');
    assert.equal(runs, runsAfter, `one side's share ${share} of the bytes per image`);
    near.forEach((t) => t.dispose());
  }
  x.dispose();
  disposeGraph(model.graph);
});

const CASES: Array<[MethodName, MethodOptions]> = [
  ['smoothgrad', { samples: 12, seed: 3, batch: 2 }],
  ['smoothgrad', { samples: 9, seed: 4, smoothBase: 'gradient-x-input', batch: 2 }],
  ['vargrad', { samples: 10, seed: 2, batch: 3 }],
  ['integrated-gradients', { steps: 14, batch: 2 }],
  ['occlusion', { patch: 16, stride: 8, batch: 4 }],
  ['scorecam', { batch: 3 }],
];

/** Each case's map, and (with a GradientPool) how many chunks its helpers computed for it. */
async function maps(model: LoadedModel, x: tf.Tensor4D, ctx: MethodContext, helped: number[] = []): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const [method, options] of CASES) {
    const before = ctx.helpers instanceof GradientPool ? ctx.helpers.chunksByHelpers : 0;
    const r = await runMethod(method, model, x, [2], { ...ctx, options });
    out.push(Float32Array.from(r.attribution.dataSync()));
    r.attribution.dispose();
    helped.push(ctx.helpers instanceof GradientPool ? ctx.helpers.chunksByHelpers - before : 0);
  }
  return out;
}

test('helper threads compute part of each job and the maps are bit-identical to the engine alone', async () => {
  const backend = await testBackend();
  const model = await LoadedModel.load(DEMO_MODEL);
  const x = randomTensor([1, model.height, model.width, model.channels], 8, 0, 1) as tf.Tensor4D;
  const pool = new GradientPool({ backend, engineThreads: 1, size: 1, minPassMs: 0 });
  try {
    assert.equal(pool.helpersFor(LoadedModel.fromGraph(tinyCnn(2)), 1e6), 0, 'a model in memory has no file for a helper');
    assert.equal(new GradientPool({ backend, engineThreads: 1, size: 1 }).helpersFor(model, 0.1), 0, 'passes too fast to pay');
    const loading = pool.prepare(model);
    // At its lower priority a loading helper would starve beside a spinning kernel thread and never join.
    assert.equal(pool.computing, true, 'a helper loading a model pauses the kernel threads');
    await loading;
    assert.equal(pool.computing, false, 'and releases them once loaded');
    // A pause between local chunks lets the helper take its share even of this small model.
    const slow = { checkpoint: () => new Promise<void>((r) => setTimeout(r, 20)) };
    const alone = await maps(model, x, slow);
    const byHelper: number[] = [];
    const helped = await maps(model, x, { ...slow, helpers: pool }, byHelper);
    CASES.forEach(([method], i) => assert.ok(byHelper[i] > 0, `${method}: the helper computed no chunk`));
    CASES.forEach(([method], i) => assert.deepEqual(helped[i], alone[i], method));
    const before = tf.memory().numTensors;
    await maps(model, x, { ...slow, helpers: pool });
    assert.equal(tf.memory().numTensors, before, 'no tensor growth over repeated helped runs');

    // A helper that dies mid-job: its chunk is computed here and the next job starts a new helper.
    const dying: GradientHelpers = {
      helpersFor: (m, ms) => pool.helpersFor(m, ms),
      readyFor: (m) => pool.readyFor(m),
      getReady: (m) => pool.getReady(m),
      run: (m, job, chunks, claims, deliver) => pool.run(m, job, chunks, claims, (i, s) => {
        deliver(i, s);
        pool.dispose();
      }),
    };
    const afterDeath = await maps(model, x, { ...slow, helpers: dying });
    CASES.forEach(([method], i) => assert.deepEqual(afterDeath[i], alone[i], `${method} after a helper died`));

    // Cancelled after the first local chunk: the job rejects, the helper stops, nothing leaks.
    const held = tf.memory().numTensors;
    let checks = 0;
    const cancelling: MethodContext = {
      helpers: pool,
      options: { samples: 12, seed: 3, batch: 2 },
      checkpoint: async () => {
        if (++checks > 1) throw new CancelledError();
      },
    };
    await assert.rejects(runMethod('smoothgrad', model, x, [2], cancelling), CancelledError);
    // The helper's chunk in flight arrives after the job has thrown: it must be dropped, not kept.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(tf.memory().numTensors, held);
    const again = await maps(model, x, { ...slow, helpers: pool });
    CASES.forEach(([method], i) => assert.deepEqual(again[i], alone[i], `${method} after a cancel`));
  } finally {
    pool.dispose();
    x.dispose();
    model.dispose();
  }
});

test('idle helpers stop and give their model copy back; the next job starts them again', async () => {
  const backend = await testBackend();
  const model = await LoadedModel.load(DEMO_MODEL);
  const pool = new GradientPool({ backend, engineThreads: 1, size: 1, minPassMs: 0, idleStopMs: 200 });
  try {
    await pool.prepare(model);
    assert.equal(pool.readyFor(model), 1, 'the helper holds the model');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(pool.readyFor(model), 0, 'stopped after 200 ms idle');
    // The next job runs without waiting for a helper, kernel threads open; its end starts one loading.
    const computing: boolean[] = [];
    const x = randomTensor([1, model.height, model.width, model.channels], 8, 0, 1) as tf.Tensor4D;
    const out = await runMethod('smoothgrad', model, x, [2], {
      helpers: pool, options: { samples: 6, seed: 1, batch: 2 }, checkpoint: async () => void computing.push(pool.computing),
    });
    tf.dispose([x, out.attribution]);
    assert.ok(computing.length > 0 && computing.every((c) => !c), 'no helper loaded or computed during the job');
    assert.equal(pool.computing, true, 'a helper started loading when the job ended');
    for (let i = 0; i < 600 && pool.readyFor(model) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(pool.readyFor(model), 1, 'a new helper holds the model again');
  } finally {
    pool.dispose();
    model.dispose();
  }
});

test('a job with no helper ready runs on the engine and gets helpers ready only when it has ended', async () => {
  await testBackend();
  const model = LoadedModel.fromGraph(tinyCnn(3));
  const x = randomTensor([1, 8, 8, 3], 4, 0, 1) as tf.Tensor4D;
  const events: string[] = [];
  let ready = 0;
  const helpers: GradientHelpers = {
    helpersFor: () => 1,
    readyFor: () => ready,
    getReady: () => void events.push('getReady'),
    run: async () => void events.push('run'),
  };
  const ctx = { helpers, checkpoint: async () => void events.push('chunk') };
  const sums = await runGradientJob(model, noiseJob(x, 6), 2, ctx, 'test');
  assert.deepEqual(events, ['chunk', 'chunk', 'chunk', 'getReady']);
  events.length = 0;
  ready = 1;
  const helped = await runGradientJob(model, noiseJob(x, 6), 2, ctx, 'test');
  assert.ok(events.includes('run') && !events.includes('getReady'), `with a helper ready: ${events.join(' ')}`);
  tf.dispose([...sums, ...helped]);
  x.dispose();
  disposeGraph(model.graph);
});
