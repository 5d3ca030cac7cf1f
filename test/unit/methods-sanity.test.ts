import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testBackend } from '../helpers/backend';
import { Engine } from '../../src/engine/engine';
import type { ExplainResult, MethodName, MethodOptions } from '../../src/shared/protocol';
import { reduceChannels, resizeBilinear } from '../../src/shared/render';

// The demo classifier (media/demo/model, trained by scripts/demo/train_demo.py on generated 64x64 images whose
// class is decided by one shape at a random place) and its held-out sanity set with object boxes
// (test/fixtures/demo-sanity). A map that explains the decision should peak on the object.
const ROOT = join(__dirname, '..', '..');
const MODEL = join(ROOT, 'media', 'demo', 'model', 'model.json');
const SANITY = join(ROOT, 'test', 'fixtures', 'demo-sanity');
/** How many held-out images the hit rate is measured on. */
const IMAGES = 20;
/** Pixels around the box that still count as "on the object" (the object's anti-aliased edge, CAM blur). */
const MARGIN = 3;

interface BoxEntry {
  file: string;
  label: string;
  index: number;
  /** [x0, y0, x1, y1], x1/y1 exclusive. */
  box: [number, number, number, number];
}

/** Per-method options: the defaults, except fewer passes where a method allows it (runtime). */
const METHODS: Array<[MethodName, MethodOptions]> = [
  ['vanilla', {}],
  ['guided', {}],
  ['gradient-x-input', {}],
  ['smoothgrad', { samples: 8, seed: 1 }],
  ['vargrad', { samples: 8, seed: 1 }],
  ['integrated-gradients', { steps: 16 }],
  ['gradcam', {}],
  ['gradcam-plus-plus', {}],
  ['hirescam', {}],
  ['layercam', {}],
  ['scorecam', { batch: 32 }],
  ['guided-gradcam', {}],
  ['occlusion', { patch: 16, stride: 8, batch: 49 }],
];

const boxes = (JSON.parse(readFileSync(join(SANITY, 'boxes.json'), 'utf8')) as BoxEntry[]).slice(0, IMAGES);
let engine: Engine;

before(async () => {
  // Hundreds of forward and backward passes: on the pure-JS cpu backend this file would take many minutes, so it
  // runs on wasm (what the engine picks by default for users without tfjs-node) unless SALIENCY_LENS_BACKEND says
  // otherwise.
  process.env.SALIENCY_LENS_BACKEND ??= 'wasm';
  engine = await Engine.create(await testBackend());
});

after(() => engine?.dispose());

function explain(entry: BoxEntry, method: MethodName, options: MethodOptions): Promise<ExplainResult> {
  return engine.explain({ modelPath: MODEL, imagePath: join(SANITY, entry.file), method, target: entry.index, options });
}

/** The map as the panel shows it: channels reduced by max-abs; a CAM upsampled bilinearly to the input. */
function displayMap(result: ExplainResult): { width: number; height: number; data: Float32Array } {
  const { height, width, channels, data } = result.attribution;
  const reduced = reduceChannels(new Float32Array(data), height, width, channels, 'max-abs');
  return resizeBilinear(reduced, result.input.width, result.input.height);
}

/**
 * Where the map is largest. Occlusion maps are piecewise constant (one value per window overlap cell), so the
 * maximum can be a plateau: its centre is taken (for a map with a single maximum, that pixel).
 */
function peak(map: { width: number; data: Float32Array }): { x: number; y: number } {
  let max = -Infinity;
  for (const v of map.data) if (v > max) max = v;
  let sx = 0, sy = 0, n = 0;
  for (let i = 0; i < map.data.length; i++) {
    if (map.data[i] < max) continue;
    sx += i % map.width;
    sy += Math.floor(i / map.width);
    n++;
  }
  return { x: Math.round(sx / n), y: Math.round(sy / n) };
}

function inBox({ x, y }: { x: number; y: number }, [x0, y0, x1, y1]: BoxEntry['box'], margin: number): boolean {
  return x >= x0 - margin && x < x1 + margin && y >= y0 - margin && y < y1 + margin;
}

test('the sanity set is there: held-out images with object boxes inside the image', () => {
  assert.equal(boxes.length, IMAGES);
  for (const b of boxes) {
    const [x0, y0, x1, y1] = b.box;
    assert.ok(x0 >= 0 && y0 >= 0 && x1 > x0 && y1 > y0 && x1 <= 64 && y1 <= 64, `${b.file}: box ${b.box}`);
  }
});

test('a map that ignores the object does not count as a hit (the measure can fail)', () => {
  // Peaks in the image corner farthest from each box: the hit rate of such a "map" must be low.
  let hits = 0;
  for (const b of boxes) {
    const [x0, y0, x1, y1] = b.box;
    const corner = { x: x0 + x1 > 64 ? 0 : 63, y: y0 + y1 > 64 ? 0 : 63 };
    if (inBox(corner, b.box, MARGIN)) hits++;
  }
  assert.ok(hits / boxes.length < 0.5, `corner "maps" hit ${hits}/${boxes.length}`);
});

const summary: string[] = [];

for (const [method, options] of METHODS) {
  test(`${method}: the map peaks on the object in most held-out images`, async (t) => {
    let hits = 0;
    const misses: string[] = [];
    let layer: string | undefined;
    const start = performance.now();
    for (const entry of boxes) {
      const result = await explain(entry, method, options);
      layer ??= result.layer;
      // CAM methods default to the demo model's last spatial layer (8x8, before global pooling).
      if (result.layer !== undefined) assert.equal(result.layer, 'block3_relu', `${method}: default CAM layer`);
      assert.equal(result.target.index, entry.index);
      const p = peak(displayMap(result));
      if (inBox(p, entry.box, MARGIN)) hits++;
      else misses.push(`${entry.file} peak (${p.x},${p.y}) box [${entry.box.join(',')}]`);
    }
    const rate = hits / boxes.length;
    const line = `${method}: hit rate ${hits}/${boxes.length} = ${(rate * 100).toFixed(0)}%${layer ? ` (layer ${layer})` : ''}, ${((performance.now() - start) / 1000).toFixed(1)} s`;
    summary.push(line);
    t.diagnostic(line);
    if (misses.length) t.diagnostic(`${method} misses: ${misses.slice(0, 5).join('; ')}${misses.length > 5 ? '; …' : ''}`);
    assert.ok(rate > 0.5, line);
  });
}

test('hit rates of all methods', (t) => {
  for (const line of summary) t.diagnostic(line);
  assert.equal(summary.length, METHODS.length);
});

/** Images for the randomisation check (each run re-initialises the model's layers and recomputes the map). */
const RANDOMIZATION_IMAGES = 3;

for (const [method, options] of [
  ['vanilla', {}], ['guided', {}], ['gradient-x-input', {}], ['integrated-gradients', { steps: 16 }],
] as Array<[MethodName, MethodOptions]>) {
  test(`${method}: randomising the model top-down drops the map's rank correlation below 0.5`, async (t) => {
    for (const entry of boxes.slice(0, RANDOMIZATION_IMAGES)) {
      const result = await explain(entry, method, { ...options, metrics: true });
      const cascade = result.metrics?.randomization;
      assert.ok(cascade && cascade.length > 0, `${method}: no randomisation check in the metrics`);
      for (const step of cascade) assert.ok(Number.isFinite(step.spearman) && Math.abs(step.spearman) <= 1 + 1e-9, `${step.layer}: ${step.spearman}`);
      const last = cascade[cascade.length - 1];
      t.diagnostic(`${method} ${entry.file}: ${cascade.map((s) => `${s.layer} ${s.spearman.toFixed(3)}`).join(', ')}`);
      assert.ok(last.spearman < 0.5, `${method} ${entry.file}: Spearman ${last.spearman.toFixed(3)} after randomising down to ${last.layer}`);
    }
  });
}
