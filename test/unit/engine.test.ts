import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Engine } from '../../src/engine/engine';
import { CancelledError } from '../../src/shared/errors';
import { preprocessImage } from '../../src/engine/image/preprocess';
import { kernelCacheSize } from '../../src/engine/kernels/kernel_cache';

const FIXTURE = join(__dirname, '..', 'fixtures', 'layers-functional');
const work = mkdtempSync(join(tmpdir(), 'sl-engine-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let engine: Engine;

async function image(name: string, width: number, height: number): Promise<{ path: string; rgb: Uint8Array }> {
  const path = join(work, name);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 53 + 11) % 256;
  await sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } }).png().toFile(path);
  return { path, rgb };
}

function modelCopy(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['model.json', 'group1-shard1of1.bin']) copyFileSync(join(FIXTURE, f), join(dir, f));
  return join(dir, 'model.json');
}

test('setup', async () => {
  engine = await Engine.create((process.env.SALIENCY_LENS_BACKEND as 'cpu' | undefined) ?? 'cpu');
});

test('an image that already has the input size is fed unresized', async () => {
  const { path, rgb } = await image('exact.png', 32, 32);
  const { model } = await engine.model(join(FIXTURE, 'model.json'));
  const prepared = await engine.prepareInput(model, path, { modelPath: model.path });
  assert.deepEqual(Array.from(prepared.fitted.data), Array.from(rgb));
  assert.deepEqual(Array.from(prepared.values), Array.from(preprocessImage({ width: 32, height: 32, data: rgb }, 'unit', 3)));
});

test('a requested target is honoured and reported; the default is top-1', async () => {
  const { path } = await image('t.png', 50, 30);
  const modelPath = join(FIXTURE, 'model.json');
  const top = await engine.explain({ imagePath: path, modelPath, method: 'vanilla' });
  assert.equal(top.target.index, top.predictions[0].index);
  const other = (top.predictions[0].index + 1) % 10;
  const chosen = await engine.explain({ imagePath: path, modelPath, method: 'vanilla', target: other });
  assert.equal(chosen.target.index, other);
  assert.equal(chosen.attribution.data.byteLength, 32 * 32 * 3 * 4);
});

test('no tensor growth over 50 explain requests served from the forward cache', async () => {
  const { path } = await image('m.png', 40, 40);
  const modelPath = join(FIXTURE, 'model.json');
  const methods = ['vanilla', 'guided', 'gradient-x-input', 'gradcam', 'scorecam'] as const;
  // The first round fills the cache (logits, the CAM layer's activations); later rounds only hit it.
  for (const method of methods) await engine.explain({ imagePath: path, modelPath, method });
  const before = tf.memory().numTensors;
  const cached = engine.forwardCacheStats();
  for (let i = 0; i < 50; i++) {
    await engine.explain({ imagePath: path, modelPath, method: methods[i % methods.length], target: i % 10, options: { batch: 4 } });
  }
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(engine.forwardCacheStats(), cached);
});

test('no tensor growth while the forward cache evicts, and nothing left after dispose', async () => {
  const live = () => tf.memory().numTensors - kernelCacheSize();
  const baseline = live();
  // Three entries: every new image evicts an older one's logits or activations.
  const small = await Engine.create((process.env.SALIENCY_LENS_BACKEND as 'cpu' | undefined) ?? 'cpu', { forwardCache: { maxEntries: 3, maxBytes: 2 ** 30 } });
  const modelPath = join(FIXTURE, 'model.json');
  const paths: string[] = [];
  for (let i = 0; i < 5; i++) paths.push((await image(`e${i}.png`, 36 + i, 30)).path);
  const round = async () => {
    for (const imagePath of paths) {
      for (const method of ['gradcam', 'vanilla', 'layercam'] as const) await small.explain({ imagePath, modelPath, method });
    }
  };
  await round();
  const full = live();
  assert.ok(full > baseline, 'the model and cached activations are held');
  assert.equal(small.forwardCacheStats().entries, 3);
  for (let i = 0; i < 3; i++) await round();
  assert.equal(live(), full);
  small.dispose();
  assert.equal(live(), baseline);
  assert.deepEqual(small.forwardCacheStats(), { entries: 0, bytes: 0 });
});

test('models are cached by path and reloaded when the file changes', async () => {
  const modelPath = modelCopy('cached');
  const first = await engine.model(modelPath);
  assert.ok(first.loadMs > 0);
  const again = await engine.model(modelPath);
  assert.equal(again.model, first.model);
  assert.equal(again.loadMs, 0);
  const later = new Date(Date.now() + 5000);
  utimesSync(modelPath, later, later);
  const reloaded = await engine.model(modelPath);
  assert.notEqual(reloaded.model, first.model);
});

test('a cancelled request stops with CancelledError and leaks no tensors', async () => {
  const { path } = await image('c.png', 32, 32);
  const modelPath = join(FIXTURE, 'model.json');
  // Derived kernels cached per weight (kernels/kernel_cache.ts) are not a leak: count without them.
  const live = () => tf.memory().numTensors - kernelCacheSize();
  const before = live();
  let calls = 0;
  await assert.rejects(
    engine.explain({ imagePath: path, modelPath, method: 'smoothgrad', options: { samples: 40, batch: 4 } }, { isCancelled: () => ++calls > 5 }),
    CancelledError,
  );
  assert.equal(live(), before);
});

test('progress is reported for multi-pass methods', async () => {
  const { path } = await image('p.png', 32, 32);
  const seen: number[] = [];
  await engine.explain({ imagePath: path, modelPath: join(FIXTURE, 'model.json'), method: 'integrated-gradients', options: { steps: 8, batch: 2 } },
    { onProgress: (f) => seen.push(f) });
  assert.ok(seen.length >= 6, `progress reports: ${seen.length}`);
  assert.deepEqual([...seen].sort((a, b) => a - b), seen, 'progress never goes back');
});
