import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { testBackend } from '../helpers/backend';
import { Engine } from '../../src/engine/engine';
import { ForwardCache } from '../../src/engine/forwardCache';
import { camFeeds, gradientCam, layerGradient } from '../../src/engine/methods/cam';
import { runMethod } from '../../src/engine/methods';
import type { RunOptions } from '../../src/engine/graph/executor';
import type { ExplainParams, ExplainResult, MethodName } from '../../src/shared/protocol';

// A residual CNN (32×32, 10 classes): block2_relu1 sits inside a block whose shortcut (block2_proj_bn) skips it.
const RESIDUAL = join(__dirname, '..', 'fixtures', 'cam-residual');
const work = mkdtempSync(join(tmpdir(), 'sl-fwd-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const engines: Engine[] = [];
after(() => engines.forEach((e) => e.dispose()));

async function engine(maxEntries = 64): Promise<Engine> {
  await testBackend();
  const e = await Engine.create((process.env.SALIENCY_LENS_BACKEND as 'cpu' | undefined) ?? 'cpu', { forwardCache: { maxEntries, maxBytes: 2 ** 30 } });
  engines.push(e);
  return e;
}

async function writeImage(path: string, seed: number, mtime?: Date): Promise<string> {
  const width = 40, height = 36;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 53 + seed * 97 + 11) % 256;
  await sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } }).png().toFile(path);
  if (mtime) utimesSync(path, mtime, mtime);
  return path;
}

function modelCopy(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['model.json', 'group1-shard1of1.bin']) copyFileSync(join(RESIDUAL, f), join(dir, f));
  return join(dir, 'model.json');
}

function same(a: ExplainResult, b: ExplainResult, what: string): void {
  assert.deepEqual(a.target, b.target, `${what}: target`);
  assert.deepEqual(a.predictions, b.predictions, `${what}: predictions`);
  assert.equal(a.layer, b.layer, `${what}: layer`);
  assert.deepEqual(new Float32Array(a.attribution.data), new Float32Array(b.attribution.data), `${what}: map`);
}

test('ForwardCache: LRU by entries and bytes, disposes on eviction, hands out clones that outlive it', async () => {
  await testBackend();
  const before = tf.memory().numTensors;
  const cache = new ForwardCache({ maxEntries: 3, maxBytes: 1000 });
  const store = cache.activations(1, 'img');
  const put = (layer: string, shape: number[]) => {
    const t = tf.fill(shape, 2);
    store.put(layer, new Map([[layer, t]]));
    t.dispose();
  };
  put('a', [1, 4, 4, 8]); // 512 bytes
  cache.putLogits(1, 'img', new Float32Array(10));
  cache.putLogits(2, 'img', new Float32Array(10));
  assert.deepEqual(cache.stats(), { entries: 3, bytes: 592 });
  const held = store.get('a')!.get('a')!;
  assert.ok(cache.logits(1, 'img'));
  // Entries: model 2's logits are now the least recently used.
  cache.putLogits(3, 'img', new Float32Array(10));
  assert.equal(cache.logits(2, 'img'), undefined);
  assert.ok(cache.logits(1, 'img') && cache.logits(3, 'img') && store.has('a'));
  // Bytes: another 512-byte layer does not fit next to layer a, the least recently used.
  put('b', [1, 4, 4, 8]);
  assert.equal(store.has('a'), false);
  assert.ok(store.has('b') && cache.logits(1, 'img') && cache.logits(3, 'img'));
  assert.deepEqual(cache.stats(), { entries: 3, bytes: 592 });
  assert.deepEqual(Array.from(held.dataSync().slice(0, 3)), [2, 2, 2], 'a clone survives eviction');
  held.dispose();
  put('huge', [1, 16, 16, 8]);
  assert.equal(store.has('huge'), false, 'larger than the whole budget: not kept');
  cache.dropModel(1);
  assert.equal(cache.logits(1, 'img'), undefined);
  assert.equal(store.has('b'), false);
  assert.ok(cache.logits(3, 'img'));
  assert.equal(tf.memory().numTensors, before, 'evicted and dropped activations are disposed');
  cache.dispose();
  assert.deepEqual(cache.stats(), { entries: 0, bytes: 0 });
});

test('the tail fed at a layer inside a residual block gives the gradient taken with only the layer fed', async () => {
  const e = await engine();
  const { model } = await e.model(join(RESIDUAL, 'model.json'));
  assert.deepEqual(camFeeds(model, 'block2_relu1'), ['block2_relu1', 'block2_proj_bn']);
  assert.deepEqual(camFeeds(model, 'block2_out'), ['block2_out']);
  const x = tf.tidy(() => tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D);
  const layer = 'block2_relu1';
  const [A, reference] = tf.tidy(() => {
    const a = model.executor.run(x, { output: layer }).output as tf.Tensor4D;
    const selector = tf.oneHot(tf.tensor1d([3], 'int32'), model.numClasses);
    // Only the layer fed: the shortcut is recomputed from the input.
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(model.logits(x, { feeds: new Map([[layer, v]]) }), selector)))(a);
    return [a, g];
  });
  const shortcut = tf.tidy(() => model.executor.run(x, { output: 'block2_proj_bn' }).output);
  const G = layerGradient(model, x, 3, layer, new Map([[layer, A], ['block2_proj_bn', shortcut]]));
  assert.deepEqual(G.dataSync(), reference.dataSync());
  const cam = gradientCam('gradcam', A, G);
  assert.ok(cam.dataSync().some((v) => v > 0));
  tf.dispose([x, A, reference, shortcut, G, cam]);
});

test('requests served from the forward cache give the same maps as uncached ones (and as runMethod)', async () => {
  const cached = await engine();
  const uncached = await engine(0);
  const imagePath = await writeImage(join(work, 'same.png'), 1);
  const modelPath = join(RESIDUAL, 'model.json');
  const sequence: Array<Pick<ExplainParams, 'method' | 'target' | 'options'>> = [
    { method: 'vanilla' }, { method: 'vanilla', target: 7 }, { method: 'guided' }, { method: 'gradient-x-input', target: 2 },
    { method: 'gradcam' }, { method: 'gradcam', target: 7 }, { method: 'gradcam-plus-plus' }, { method: 'hirescam', target: 1 },
    { method: 'layercam' }, { method: 'scorecam', target: 7, options: { batch: 5 } }, { method: 'guided-gradcam', target: 4 },
    { method: 'gradcam', options: { layer: 'block2_relu1' } }, { method: 'layercam', target: 9, options: { layer: 'block2_relu1' } },
    { method: 'gradcam', options: { layer: 'block1_relu1' } },
  ];
  const { model } = await cached.model(modelPath);
  const input = await cached.prepareInput(model, imagePath, { modelPath });
  const x = tf.tensor4d(input.values, [1, 32, 32, 3]);
  for (const request of sequence) {
    const what = `${request.method} target ${request.target ?? 'default'}${request.options?.layer ? ` at ${request.options.layer}` : ''}`;
    const a = await cached.explain({ imagePath, modelPath, ...request });
    const b = await uncached.explain({ imagePath, modelPath, ...request });
    same(a, b, what);
    const direct = await runMethod(request.method, model, x, [a.target.index], { options: request.options });
    assert.deepEqual(new Float32Array(a.attribution.data), direct.attribution.dataSync(), `${what}: as runMethod`);
    direct.attribution.dispose();
  }
  x.dispose();
  assert.ok(cached.forwardCacheStats().entries >= 4, 'logits and three layers are cached');
  assert.deepEqual(uncached.forwardCacheStats(), { entries: 0, bytes: 0 });
});

test('a cached request runs no forward pass of its own beyond the graph tail', async () => {
  const e = await engine();
  const imagePath = await writeImage(join(work, 'passes.png'), 2);
  const modelPath = join(RESIDUAL, 'model.json');
  const { model } = await e.model(modelPath);
  const runs: RunOptions[] = [];
  const run = model.executor.run.bind(model.executor);
  model.executor.run = (x, options = {}) => {
    runs.push(options);
    return run(x, options);
  };
  const passes = async (method: MethodName, target?: number): Promise<string[]> => {
    runs.length = 0;
    await e.explain({ imagePath, modelPath, method, target, options: { batch: 64 } });
    return runs.map((o) => (o.feeds ? `tail from ${[...o.feeds.keys()].join('+')}` : `from input to ${o.output}${o.taps?.length ? ` tapping ${o.taps.join('+')}` : ''}`));
  };
  model.layers(); // the layer listing (one run, once per model) finds the default CAM layer
  try {
    // First request: the predictions come from the gradient's own forward pass.
    assert.deepEqual(await passes('vanilla'), ['from input to logits']);
    assert.deepEqual(await passes('vanilla', 3), ['from input to logits']);
    assert.deepEqual(await passes('gradcam'), ['from input to block2_out', 'tail from block2_out']);
    assert.deepEqual(await passes('gradcam', 3), ['tail from block2_out']);
    assert.deepEqual(await passes('gradcam-plus-plus'), ['tail from block2_out']);
    // Score-CAM: only its masked passes (one batch of 64 channels), no gradient.
    assert.deepEqual(await passes('scorecam'), ['from input to logits']);
    const other = await writeImage(join(work, 'passes2.png'), 3);
    runs.length = 0;
    await e.explain({ imagePath: other, modelPath, method: 'hirescam', options: { layer: 'block2_relu1' } });
    assert.deepEqual(runs.map((o) => [o.output, o.taps, o.feeds && [...o.feeds.keys()]]), [
      ['logits', ['block2_relu1', 'block2_proj_bn'], undefined], ['logits', undefined, ['block2_relu1', 'block2_proj_bn']],
    ], 'one pass for the predictions and the layer, then the tail');
  } finally {
    model.executor.run = run;
  }
});

test('an image file changed on disk (mtime) is not served from the cache', async () => {
  const e = await engine();
  const modelPath = join(RESIDUAL, 'model.json');
  const imagePath = await writeImage(join(work, 'changing.png'), 4, new Date(Date.now() - 60_000));
  const first = { vanilla: await e.explain({ imagePath, modelPath, method: 'vanilla' }), gradcam: await e.explain({ imagePath, modelPath, method: 'gradcam' }) };
  await writeImage(imagePath, 5, new Date());
  const fresh = await engine(0);
  for (const method of ['vanilla', 'gradcam'] as const) {
    const again = await e.explain({ imagePath, modelPath, method, target: first[method].target.index });
    same(again, await fresh.explain({ imagePath, modelPath, method, target: first[method].target.index }), `${method} after the change`);
    assert.notDeepEqual(new Float32Array(again.attribution.data), new Float32Array(first[method].attribution.data), `${method}: new image, new map`);
  }
});

test('reloading a changed model file drops its cached forward results', async () => {
  const e = await engine();
  const modelPath = modelCopy('reloaded');
  const imagePath = await writeImage(join(work, 'reload.png'), 6);
  await e.explain({ imagePath, modelPath, method: 'gradcam' });
  assert.equal(e.forwardCacheStats().entries, 2);
  const later = new Date(Date.now() + 5000);
  utimesSync(modelPath, later, later);
  await e.explain({ imagePath, modelPath, method: 'vanilla' });
  assert.equal(e.forwardCacheStats().entries, 1, 'only the new model\'s logits');
});
