import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testBackend } from '../helpers/backend';
import { runCli } from '../helpers/cli';
import { LoadedModel } from '../../src/engine/model';
import { decodeImage } from '../../src/engine/image/decode';
import { fitImage } from '../../src/engine/image/fit';
import { channelMeans, rgbToInput } from '../../src/engine/featureVis/objective';
import { imagesToRgb } from '../../src/engine/featureVis/images';
import { highFrequencyEnergy } from '../../src/engine/featureVis/metrics';
import { dreamOnModel, visualizeModelFilters, type FilterOutcome } from '../../src/engine/featureVis';
import type { EngineMessage, FeatureVisRequest } from '../../src/shared/protocol';

// The demo classifier (media/demo/model, 64×64 input). Runs are kept short for the cpu backend: 32-pixel
// images (the model is convolutional up to its global pooling) and a few filters.
const ROOT = join(__dirname, '..', '..');
const MODEL = join(ROOT, 'media', 'demo', 'model', 'model.json');
const IMAGE = join(ROOT, 'media', 'demo', 'demo.png');
const LAYER = 'block3_relu';
const FILTERS = [0, 1, 2, 3];
const work = mkdtempSync(join(tmpdir(), 'sl-fv-'));
after(() => rmSync(work, { recursive: true, force: true }));

let model: LoadedModel | undefined;
async function demo(): Promise<LoadedModel> {
  await testBackend();
  model ??= await LoadedModel.load(MODEL);
  return model;
}
after(() => model?.dispose());

/** Per outcome: gain ≥ 10× over the start image, and whether its filter is the layer's most active one. */
function judge(m: LoadedModel, outcomes: FilterOutcome[]): { gains: boolean[]; largest: boolean[] } {
  const x = imagesToRgb(outcomes.map((o) => o.image));
  const means = tf.tidy(() => channelMeans(m, rgbToInput(x, 'unit', 3), LAYER).arraySync());
  x.dispose();
  return {
    gains: outcomes.map((o) => o.after > 0 && o.after >= 10 * Math.abs(o.before)),
    largest: outcomes.map((o, i) => means[i].indexOf(Math.max(...means[i])) === o.index),
  };
}

const meanHf = (outcomes: FilterOutcome[]) => outcomes.reduce((s, o) => s + highFrequencyEnergy(o.image), 0) / outcomes.length;

test('demo model: Fourier filters rise ≥10× over the start image, mostly as the layer\'s largest, with less high-frequency energy than plain pixels', async (t) => {
  const m = await demo();
  const fourier = await visualizeModelFilters(m, 'unit', LAYER, FILTERS, undefined, { steps: 48, size: 32, seed: 1 });
  const pixel = await visualizeModelFilters(m, 'unit', LAYER, FILTERS, undefined, { steps: 48, size: 32, seed: 1, param: 'pixel', transforms: false });
  const f = judge(m, fourier.outcomes);
  const p = judge(m, pixel.outcomes);
  const frac = (b: boolean[]) => b.filter(Boolean).length / b.length;
  const hfFourier = meanHf(fourier.outcomes);
  const hfPixel = meanHf(pixel.outcomes);
  t.diagnostic(`fourier: ${fourier.outcomes.map((o) => `${o.index}: ${o.before.toFixed(3)}→${o.after.toFixed(2)}`).join(', ')}; gain≥10× ${frac(f.gains)}, largest ${frac(f.largest)}`);
  t.diagnostic(`pixel: gain≥10× ${frac(p.gains)}, largest ${frac(p.largest)}; high-frequency energy (>0.25 c/px) fourier ${hfFourier.toFixed(3)} vs pixel ${hfPixel.toFixed(3)}`);
  assert.ok(f.gains.every(Boolean), 'every Fourier filter gains ≥10×');
  assert.ok(frac(f.largest) >= 0.5, `Fourier filters are the largest of the layer for most: ${frac(f.largest)}`);
  assert.ok(hfFourier < 0.5 * hfPixel, `high-frequency energy ${hfFourier} vs ${hfPixel}`);
});

test('demo model: DeepDream on the demo image raises the layer\'s and the filters\' activation', async () => {
  const m = await demo();
  const start = fitImage(await decodeImage(IMAGE), 64, 64, 'squash');
  const layer = await dreamOnModel(m, 'unit', start, 'res_relu', undefined, { steps: 4, octaves: 2 });
  assert.equal(layer.outcomes.length, 1);
  assert.equal(layer.outcomes[0].index, null);
  assert.ok(layer.outcomes[0].after > 1.5 * layer.outcomes[0].before, `${layer.outcomes[0].before} → ${layer.outcomes[0].after}`);
  assert.deepEqual([layer.outcomes[0].image.width, layer.outcomes[0].image.height], [64, 64]);
  const filters = await dreamOnModel(m, 'unit', start, 'res_relu', [1, 2], { steps: 4, octaves: 1 });
  assert.deepEqual(filters.outcomes.map((o) => o.index), [1, 2]);
  for (const o of filters.outcomes) assert.ok(o.after > o.before, `filter ${o.index}: ${o.before} → ${o.after}`);
});

test('CLI: filters and dream write one PNG per filter plus a grid, and --json gives layer, objective, filters', () => {
  const out = join(work, 'cli');
  const r = runCli(['filters', '--model', MODEL, '--layer', LAYER, '--count', '2', '--steps', '2', '--size', '32', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout) as { layer: string; objective: string; grid: string; filters: Array<{ index: number; before: number; after: number; file: string }> };
  assert.equal(json.layer, LAYER);
  assert.equal(json.objective, 'channel');
  assert.deepEqual(json.filters.map((f) => f.index), [0, 1]);
  for (const f of json.filters) {
    assert.equal(typeof f.before, 'number');
    assert.ok(existsSync(f.file), f.file);
  }
  assert.ok(existsSync(json.grid));
  const d = runCli(['dream', IMAGE, '--model', MODEL, '--layer', 'res_relu', '--filters', '3', '--steps', '2', '--octaves', '1', '--out', out, '--json']);
  assert.equal(d.status, 0, d.stderr);
  const dj = JSON.parse(d.stdout) as { objective: string; filters: Array<{ index: number; file: string }> };
  assert.equal(dj.objective, 'channel');
  assert.equal(dj.filters[0].index, 3);
  assert.ok(existsSync(dj.filters[0].file));
  const bad = runCli(['filters', '--model', MODEL, '--filters', '1']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr.trim(), /^saliency-lens: --layer: is required/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('engine process: visualizeFilters streams intermediate images, answers a result, and cancels', async () => {
  const child = fork(join(ROOT, 'src', 'engine', 'process.ts'), [], {
    execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, SALIENCY_LENS_BACKEND: process.env.SALIENCY_LENS_BACKEND ?? 'cpu' },
  });
  const messages: EngineMessage[] = [];
  const next = (pred: (m: EngineMessage) => boolean) => new Promise<EngineMessage>((resolve) => {
    const seen = messages.find(pred);
    if (seen) return resolve(seen);
    const on = (m: EngineMessage) => {
      if (pred(m)) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
  });
  child.on('message', (m: EngineMessage) => messages.push(m));
  try {
    await next((m) => m.type === 'ready');
    const send = (r: FeatureVisRequest | { type: 'cancel'; id: number }) => child.send(r);
    send({ type: 'visualizeFilters', id: 1, params: { modelPath: MODEL, layer: LAYER, count: 2, options: { steps: 4, size: 32, imageEvery: 2 } } });
    const result = await next((m) => 'id' in m && m.id === 1 && (m.type === 'visualizeFiltersResult' || m.type === 'error'));
    assert.equal(result.type, 'visualizeFiltersResult', JSON.stringify(result));
    const live = messages.filter((m) => m.type === 'filterImages' && m.id === 1);
    assert.equal(live.length, 2, 'images at steps 2 and 4');
    if (live[0].type === 'filterImages') {
      assert.equal(live[0].steps, 4);
      assert.ok(live[0].images[0].image.data instanceof ArrayBuffer);
      assert.equal(live[0].images[0].image.data.byteLength, 32 * 32 * 4);
    }
    if (result.type === 'visualizeFiltersResult') assert.deepEqual(result.result.filters.map((f) => f.index), [0, 1]);
    send({ type: 'dream', id: 2, params: { modelPath: MODEL, imagePath: IMAGE, layer: 'res_relu', options: { steps: 1000 } } });
    await next((m) => m.type === 'progress' && m.id === 2 && m.fraction > 0.06);
    send({ type: 'cancel', id: 2 });
    const cancelled = await next((m) => m.type === 'error' && m.id === 2);
    assert.equal(cancelled.type === 'error' && cancelled.kind, 'cancelled');
  } finally {
    child.send({ type: 'shutdown' });
    await new Promise((r) => child.once('exit', r));
  }
});
