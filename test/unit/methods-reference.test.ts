import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { testBackend } from '../helpers/backend';
import { cosine, maxRelativeError, readNpy } from '../helpers/reference';
import { LoadedModel } from '../../src/engine/model';
import { runMethod, type MethodOutput } from '../../src/engine/methods';
import type { MethodName, MethodOptions } from '../../src/shared/protocol';

// test/fixtures/cam-residual is written by scripts/fixtures/make_cam_reference.py: a residual CNN (stem, an
// identity block, a stride-2 block with a 1x1 projection shortcut, GAP, Dense) as a TF.js Layers model, with
// raw CAMs (Score-CAM included), Guided Grad-CAM, Integrated Gradients and input gradients computed by an
// independent float64 PyTorch implementation.
const DIR = join(__dirname, '..', 'fixtures', 'cam-residual');
const CAMS = ['gradcam', 'gradcam-plus-plus', 'hirescam', 'layercam'] as const;

interface LayerReference {
  shape: [number, number, number];
  files: Record<string, string>;
}
interface Reference {
  target: number;
  layer: string;
  layers: Record<string, LayerReference>;
  ig: { steps: number; fx: number; fx0: number; sum: number };
}

const reference = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8')) as Reference;
let model: LoadedModel;
let x: tf.Tensor4D;

before(async () => {
  await testBackend();
  model = await LoadedModel.load(join(DIR, 'model.json'));
  const input = readNpy(join(DIR, 'input.npy'));
  const [h, w, c] = input.shape;
  x = tf.tensor4d(input.data, [1, h, w, c]);
});

after(() => {
  x?.dispose();
  model?.dispose();
});

async function run(method: MethodName, options: MethodOptions = {}): Promise<MethodOutput & { data: Float32Array }> {
  const out = await runMethod(method, model, x, [reference.target], { options });
  const data = out.attribution.dataSync() as Float32Array;
  out.attribution.dispose();
  return { ...out, data: Float32Array.from(data) };
}

/** The raw CAM of a result: `rawCam` when the method reports one separately, else the [1,h,w,1] attribution. */
function rawCam(out: MethodOutput & { data: Float32Array }): { height: number; width: number; data: Float32Array } {
  const separate = (out as { rawCam?: { height: number; width: number; data: ArrayLike<number> } }).rawCam;
  if (separate) return { height: separate.height, width: separate.width, data: Float32Array.from(separate.data) };
  const [, h, w, c] = out.attribution.shape;
  assert.equal(c, 1, `a raw CAM has one channel, got shape [${out.attribution.shape.join(',')}]`);
  return { height: h, width: w, data: out.data };
}

test('the fixture runs: logits match PyTorch', () => {
  const logits = tf.tidy(() => model.logits(x).dataSync() as Float32Array);
  const err = maxRelativeError(logits, readNpy(join(DIR, 'logits.npy')).data);
  assert.ok(err < 1e-4, `logits rel. error ${err}`);
});

test('the default CAM layer is the last spatial layer before global pooling (the ReLU after the last residual Add)', async () => {
  assert.equal(reference.layer, 'block2_out');
  for (const method of [...CAMS, 'scorecam', 'guided-gradcam'] as MethodName[]) {
    const out = await run(method);
    assert.equal(out.layer, reference.layer, `${method}: default layer`);
  }
});

for (const layer of Object.keys(reference.layers)) {
  const ref = reference.layers[layer];
  const isDefault = layer === reference.layer;
  test(`raw CAMs at ${layer} (${ref.shape.join('×')}${isDefault ? ', default layer' : ', by name'}) match PyTorch, cosine ≥ 0.999`, async (t) => {
    const report: string[] = [];
    for (const method of CAMS) {
      const out = await run(method, isDefault ? {} : { layer });
      assert.equal(out.layer, layer, `${method}: layer`);
      const cam = rawCam(out);
      assert.deepEqual([cam.height, cam.width], ref.shape.slice(0, 2), `${method}: raw CAM at layer resolution`);
      const expected = readNpy(join(DIR, ref.files[method]));
      assert.deepEqual(expected.shape, ref.shape.slice(0, 2));
      assert.ok(cam.data.every((v) => v >= 0), `${method}: raw CAM after ReLU is non-negative`);
      const c = cosine(cam.data, expected.data);
      const rel = maxRelativeError(cam.data, expected.data);
      report.push(`${method} cosine ${c.toFixed(6)} max rel. err ${rel.toExponential(2)}`);
      assert.ok(c >= 0.999, `${method} at ${layer}: cosine ${c}`);
      // Raw means unnormalised: the values themselves match, not only the shape of the map.
      assert.ok(rel < 1e-3, `${method} at ${layer}: max relative error ${rel} (raw CAM scale differs)`);
    }
    t.diagnostic(`${layer}: ${report.join('; ')}`);
  });
}

for (const layer of Object.keys(reference.layers)) {
  const ref = reference.layers[layer];
  const options: MethodOptions = layer === reference.layer ? {} : { layer };
  test(`Score-CAM at ${layer} (raw, ${ref.shape.slice(0, 2).join('×')}) matches PyTorch`, async (t) => {
    const out = await run('scorecam', options);
    assert.equal(out.layer, layer);
    const cam = rawCam(out);
    assert.deepEqual([cam.height, cam.width], ref.shape.slice(0, 2), 'raw Score-CAM at layer resolution');
    assert.ok(cam.data.every((v) => v >= 0), 'raw Score-CAM after ReLU is non-negative');
    const expected = readNpy(join(DIR, ref.files.scorecam));
    const c = cosine(cam.data, expected.data);
    const rel = maxRelativeError(cam.data, expected.data);
    t.diagnostic(`scorecam at ${layer}: cosine ${c.toFixed(6)} max rel. err ${rel.toExponential(2)}`);
    assert.ok(c >= 0.999, `cosine ${c}`);
    // The softmax over channels leaves the weights nearly uniform here, so even a map with every weight 1/K has
    // cosine > 0.999 with the reference: the values carry the check. Upsampling with align_corners=True
    // (pytorch-grad-cam) lands at 2.9e-3 (block1_out) and 1.5e-2 (block2_out); see reference.json variants.
    assert.ok(rel < 2e-4, `max relative error ${rel}`);
  });

  test(`Guided Grad-CAM with the Grad-CAM of ${layer} (input resolution, signed) matches PyTorch`, async (t) => {
    const out = await run('guided-gradcam', options);
    assert.equal(out.layer, layer);
    assert.equal(out.signed, true);
    const expected = readNpy(join(DIR, ref.files['guided-gradcam']));
    assert.deepEqual(out.attribution.shape.slice(1), expected.shape, 'guided × CAM at input resolution [H,W,C]');
    const c = cosine(out.data, expected.data);
    const rel = maxRelativeError(out.data, expected.data);
    t.diagnostic(`guided-gradcam at ${layer}: cosine ${c.toFixed(6)} max rel. err ${rel.toExponential(2)}`);
    // Upsampling with align_corners=True has cosine 0.963 / 0.989; a CAM not divided by its peak, rel. err ~1.
    assert.ok(c >= 0.999, `cosine ${c}`);
    assert.ok(rel < 1e-3, `max relative error ${rel}`);
  });
}

test('Integrated Gradients (zero baseline, trapezoid, 64 steps) matches Captum-style PyTorch; completeness within 1%', async (t) => {
  const { steps, fx, fx0 } = reference.ig;
  const out = await run('integrated-gradients', { steps, baseline: 'zero', integration: 'trapezoid', batch: 16 });
  assert.deepEqual(out.attribution.shape, x.shape);
  const expected = readNpy(join(DIR, 'integrated-gradients.npy')).data;
  const c = cosine(out.data, expected);
  let sum = 0;
  for (const v of out.data) sum += v;
  const delta = fx - fx0;
  const gap = Math.abs(sum - delta) / Math.abs(delta);
  t.diagnostic(`IG cosine ${c.toFixed(6)}; Σattr ${sum.toFixed(5)} (PyTorch ${reference.ig.sum.toFixed(5)}), f(x)−f(x0) ${delta.toFixed(5)}, gap ${(gap * 100).toFixed(3)}%; reported gap ${((out.completeness?.gap ?? NaN) * 100).toFixed(3)}%`);
  assert.ok(c >= 0.999, `IG cosine ${c}`);
  assert.ok(gap < 0.01, `completeness gap ${gap}`);
  assert.ok(Math.abs(sum - reference.ig.sum) / Math.abs(reference.ig.sum) < 1e-3, `Σattr ${sum} vs PyTorch ${reference.ig.sum}`);
  // The gap reported with the result is the same quantity.
  assert.ok(out.completeness, 'IG reports its completeness');
  assert.ok(Math.abs(out.completeness.delta - delta) < 1e-4 * Math.max(1, Math.abs(delta)), `reported f(x)−f(x0) ${out.completeness.delta} vs ${delta}`);
  assert.ok(Math.abs(out.completeness.sum - sum) < 1e-4 * Math.max(1, Math.abs(sum)), `reported Σattr ${out.completeness.sum} vs ${sum}`);
  assert.ok(Math.abs(out.completeness.gap - gap) < 1e-3, `reported gap ${out.completeness.gap} vs ${gap}`);
});

test('Integrated Gradients does not depend on the internal batch size', async () => {
  const a = await run('integrated-gradients', { steps: 8, batch: 8 });
  const b = await run('integrated-gradients', { steps: 8, batch: 3 });
  assert.ok(maxRelativeError(a.data, b.data) < 1e-4, `batch 8 vs 3: ${maxRelativeError(a.data, b.data)}`);
});

test('vanilla and guided input gradients match PyTorch on the residual model', async () => {
  for (const method of ['vanilla', 'guided'] as const) {
    const out = await run(method);
    const c = cosine(out.data, readNpy(join(DIR, `${method}.npy`)).data);
    assert.ok(c >= 0.999, `${method} cosine ${c}`);
  }
});

test('SmoothGrad and VarGrad with a fixed seed are reproducible; another seed gives another map', async (t) => {
  for (const method of ['smoothgrad', 'vargrad'] as const) {
    const options: MethodOptions = { samples: 6, noise: 0.15, seed: 1234, batch: 4 };
    const a = await run(method, options);
    const b = await run(method, options);
    assert.deepEqual(a.data, b.data, `${method}: same seed, same map`);
    const c = await run(method, { ...options, seed: 1235 });
    const diff = maxRelativeError(c.data, a.data);
    t.diagnostic(`${method}: seed 1234 vs 1235 max rel. difference ${diff.toExponential(2)}`);
    assert.ok(diff > 1e-3, `${method}: another seed should give another map (max rel. difference ${diff})`);
    // The batch size only groups the same noise draws.
    const d = await run(method, { ...options, batch: 6 });
    assert.ok(maxRelativeError(d.data, a.data) < 1e-4, `${method}: batch 4 vs 6 differ by ${maxRelativeError(d.data, a.data)}`);
  }
});

test('SmoothGrad with zero noise is the vanilla gradient', async () => {
  const s = await run('smoothgrad', { samples: 2, noise: 0, seed: 3 });
  const v = readNpy(join(DIR, 'vanilla.npy')).data;
  const c = cosine(s.data, v);
  assert.ok(c >= 0.999, `cosine ${c}`);
});
