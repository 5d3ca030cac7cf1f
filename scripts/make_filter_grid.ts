/**
 * Generates the README's filter grid for the demo model: the first 16 filters of block3_relu, optimised with
 * the defaults (Fourier parameterisation, decorrelated colour, transforms, Adam, 128 steps, seed 0), into
 * docs/images/demo-filters.png. Prints each filter's mean activation on the start image and on the result.
 *
 *   node --import tsx scripts/make_filter_grid.ts [--layer NAME] [--count N] [--steps N] [--out FILE]
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine';
import { visualizeModelFilters } from '../src/engine/featureVis';
import { filterGrid } from '../src/engine/featureVis/images';
import { highFrequencyEnergy } from '../src/engine/featureVis/metrics';
import { writePng } from '../src/engine/image/encode';
import { rgbToRgba } from '../src/shared/render';

const ROOT = resolve(__dirname, '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { layer: { type: 'string' }, count: { type: 'string' }, steps: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' } },
  });
  const layer = values.layer ?? 'block3_relu';
  const count = Number(values.count ?? 16);
  const steps = Number(values.steps ?? 128);
  const out = resolve(values.out ?? join(ROOT, 'docs', 'images', 'demo-filters.png'));
  const engine = await Engine.create((values.backend as 'wasm' | 'cpu' | undefined) ?? 'auto');
  const { model } = await engine.model(join(ROOT, 'media', 'demo', 'model', 'model.json'));
  const start = performance.now();
  const r = await visualizeModelFilters(model, model.settings.preprocess ?? 'unit', layer, undefined, count, { steps, seed: 0 }, {
    onProgress: process.stderr.isTTY ? (f) => process.stderr.write(`\r${(f * 100).toFixed(0)}%`) : undefined,
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const o of r.outcomes) {
    console.log(`${layer} filter ${o.index}: mean activation ${o.before.toFixed(4)} → ${o.after.toFixed(3)}, high-frequency energy ${highFrequencyEnergy(o.image).toFixed(3)}`);
  }
  const grid = filterGrid(r.outcomes.map((o) => o.image), { minTile: 128, gap: 4 });
  mkdirSync(dirname(out), { recursive: true });
  await writePng(out, rgbToRgba(grid.width, grid.height, grid.data));
  console.log(`wrote ${out} (${grid.width}×${grid.height}, ${engine.backend}, ${((performance.now() - start) / 1000).toFixed(0)} s)`);
  engine.dispose();
}

void main();
