/**
 * ONNX importer on hand-built models for the forms torch 1.13 does not export: Split into equal parts (no sizes)
 * and by num_outputs (opset 18, smaller last part), LayerNormalization over inner axes without bias, LRN with an
 * even window, and cubic Resize with exclude_outside, asymmetric / pytorch_half_pixel coordinates and
 * cubic_coeff_a −0.5, each against a plain-JS NCHW reference; and the one-line errors of bad Split sizes.
 */
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { disposeGraph, type Graph } from '../../src/engine/graph/ir';
import { importOnnxModel } from '../../src/engine/importers/onnx';
import { isBadInput } from '../../src/shared/errors';
import { testBackend } from '../helpers/backend';
import { maxRelError, nchwToNhwc, onnxModel, onnxNode, predict, rawTensor, seededValues, valueInfo } from './onnx-support';

const dir = mkdtempSync(join(tmpdir(), 'onnx-split-norm-'));
let counter = 0;

function save(bytes: Uint8Array): string {
  const path = join(dir, `m${counter++}.onnx`);
  writeFileSync(path, bytes);
  return path;
}

/** Imports the model, runs it on x (NCHW, flat) and returns the flat ONNX-order output. */
async function runModel(bytes: Uint8Array, x: Float32Array, [n, c, h, w]: number[]): Promise<Float32Array> {
  const graph: Graph = await importOnnxModel(save(bytes));
  try {
    const input = tf.tensor4d(nchwToNhwc(x, [n, c, h, w]), [n, h, w, c]);
    const y = predict(graph, input).data;
    input.dispose();
    return y;
  } finally {
    disposeGraph(graph);
  }
}

/** Element (c, y, x) of a [1, C, H, W] flat array. */
const at = (a: Float32Array, [, , h, w]: number[], c: number, y: number, x: number) => a[(c * h + y) * w + x];

before(async () => {
  await testBackend();
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('ONNX Split', () => {
  it('splits by num_outputs at opset 18, the last part smaller (width axis)', async () => {
    // Columns [0,1] [2,3] [4], concatenated back as [4] [0,1] [2,3].
    const x = seededValues(3 * 4 * 5, 21);
    const bytes = onnxModel([
      onnxNode('Split', ['x'], ['a', 'b', 'c'], { axis: 3, num_outputs: 3 }, 'split'),
      onnxNode('Concat', ['c', 'a', 'b'], ['y'], { axis: -1 }, 'concat'),
    ], [], valueInfo('x', [1, 3, 4, 5]), valueInfo('y', [1, 3, 4, 5]), 18);
    const order = [4, 0, 1, 2, 3];
    const expected = Float32Array.from({ length: x.length }, (_, i) => x[i - (i % 5) + order[i % 5]]);
    assert.deepEqual(await runModel(bytes, x, [1, 3, 4, 5]), expected);
  });

  it('splits into equal parts when no sizes are given (opset 13, channels)', async () => {
    const x = seededValues(4 * 3 * 2, 22);
    const bytes = onnxModel([
      onnxNode('Split', ['x'], ['a', 'b'], { axis: 1 }, 'split'),
      onnxNode('Sub', ['a', 'b'], ['y'], {}, 'sub'),
    ], [], valueInfo('x', [1, 4, 3, 2]), valueInfo('y', [1, 2, 3, 2]));
    const expected = Float32Array.from({ length: 12 }, (_, i) => x[i] - x[i + 12]);
    assert.ok(maxRelError(await runModel(bytes, x, [1, 4, 3, 2]), expected) < 1e-6);
  });

  it('rejects sizes that do not add up, and axes that do not divide, with one line naming the node', async () => {
    const sizes = { name: 's', dims: [2], dataType: 7, int64Data: [2, 2] };
    const cases: Array<[Uint8Array, RegExp]> = [
      [onnxModel([onnxNode('Split', ['x', 's'], ['a', 'b'], { axis: 3 }, 'split'), onnxNode('Add', ['a', 'b'], ['y'], {}, 'add')],
        [sizes], valueInfo('x', [1, 3, 4, 5]), valueInfo('y', [1, 3, 4, 2])), /split sizes \[2, 2\] do not add up to the axis size 5/],
      [onnxModel([onnxNode('Split', ['x'], ['a', 'b'], { axis: 3 }, 'split'), onnxNode('Add', ['a', 'b'], ['y'], {}, 'add')],
        [], valueInfo('x', [1, 3, 4, 5]), valueInfo('y', [1, 3, 4, 2])), /an axis of size 5 cannot be split into 2 parts/],
    ];
    for (const [bytes, message] of cases) {
      const path = save(bytes);
      await assert.rejects(importOnnxModel(path), (err: Error) => {
        assert.ok(isBadInput(err));
        assert.match(err.message, message);
        assert.match(err.message, /node "split" \(Split, opset 13\)/);
        assert.ok(err.message.startsWith(path) && !err.message.includes('\n'));
        return true;
      });
    }
  });
});

describe('ONNX LayerNormalization and LRN', () => {
  const shape = [1, 3, 4, 5];
  const x = seededValues(60, 23);

  it('normalises over H and W (axis 2) with a [H, W] scale and no bias', async () => {
    const scale = seededValues(20, 24);
    const bytes = onnxModel([onnxNode('LayerNormalization', ['x', 'g'], ['y'], { axis: 2, epsilon: 0.01 }, 'ln')],
      [rawTensor('g', [4, 5], scale)], valueInfo('x', [1, 3, 4, 5]), valueInfo('y', [1, 3, 4, 5]), 17);
    const expected = new Float32Array(60);
    for (let c = 0; c < 3; c++) {
      const part = x.subarray(c * 20, c * 20 + 20);
      const mean = part.reduce((s, v) => s + v, 0) / 20;
      const variance = part.reduce((s, v) => s + (v - mean) ** 2, 0) / 20;
      part.forEach((v, i) => (expected[c * 20 + i] = ((v - mean) / Math.sqrt(variance + 0.01)) * scale[i]));
    }
    assert.ok(maxRelError(await runModel(bytes, x, shape), expected) < 1e-5);
  });

  it('sums an even LRN window over c − 1 … c + 2 (ONNX), alpha divided by size', async () => {
    const [size, alpha, beta, bias] = [4, 0.4, 0.6, 1.3];
    const bytes = onnxModel([onnxNode('LRN', ['x'], ['y'], { size, alpha, beta, bias }, 'lrn')], [],
      valueInfo('x', [1, 3, 4, 5]), valueInfo('y', [1, 3, 4, 5]));
    const expected = new Float32Array(60);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 4; y++) for (let xx = 0; xx < 5; xx++) {
      let sum = 0;
      for (let k = c - 1; k <= c + 2; k++) if (k >= 0 && k < 3) sum += at(x, shape, k, y, xx) ** 2;
      expected[(c * 4 + y) * 5 + xx] = at(x, shape, c, y, xx) / (bias + (alpha / size) * sum) ** beta;
    }
    assert.ok(maxRelError(await runModel(bytes, x, shape), expected) < 1e-5);
  });
});

/** The ONNX cubic coefficients of the four taps around a source coordinate with fraction t. */
function cubicCoefficients(t: number, a: number): number[] {
  const far = (s: number) => ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
  const near = (s: number) => ((a + 2) * s - (a + 3)) * s * s + 1;
  return [far(1 + t), near(t), near(1 - t), far(2 - t)];
}

/** One-dimensional ONNX cubic interpolation of `get` (length n) at source coordinate `src`. */
function interpolate1d(get: (i: number) => number, n: number, src: number, a: number, excludeOutside: boolean): number {
  const base = Math.floor(src);
  const coeffs = cubicCoefficients(src - base, a);
  let value = 0;
  let total = 0;
  coeffs.forEach((w, k) => {
    const i = base - 1 + k;
    if (excludeOutside && (i < 0 || i >= n)) return;
    value += w * get(Math.min(n - 1, Math.max(0, i)));
    total += w;
  });
  return excludeOutside ? value / total : value;
}

describe('ONNX cubic Resize', () => {
  const shape = [1, 2, 5, 4];
  const x = seededValues(40, 25);

  const cases = [
    { mode: 'asymmetric', exclude: 1, a: -0.5, out: [7, 3], scales: undefined, src: (o: number, inS: number, outS: number) => (o * inS) / outS },
    // Scales 1.5 and 0.5: coordinates follow the factors (5·1.5 = 7.5 → 7 rows at spacing 1/1.5).
    { mode: 'pytorch_half_pixel', exclude: 0, a: -0.75, out: [7, 2], scales: [1.5, 0.5],
      src: (o: number, _inS: number, outS: number, s: number) => (outS > 1 ? (o + 0.5) / s - 0.5 : 0) },
  ];

  for (const c of cases) {
    it(`${c.mode}, exclude_outside ${c.exclude}, cubic_coeff_a ${c.a}${c.scales ? ', by scales' : ', by sizes'}`, async () => {
      const attrs = { mode: 'cubic', coordinate_transformation_mode: c.mode, cubic_coeff_a: c.a, exclude_outside: c.exclude };
      const [oh, ow] = c.out;
      const inputs = c.scales ? ['x', '', 's'] : ['x', '', '', 'sz'];
      const inits = c.scales ? [rawTensor('s', [4], [1, 1, ...c.scales])] : [{ name: 'sz', dims: [4], dataType: 7, int64Data: [1, 2, oh, ow] }];
      const bytes = onnxModel([onnxNode('Resize', inputs, ['y'], attrs, 'resize')], inits,
        valueInfo('x', [1, 2, 5, 4]), valueInfo('y', [1, 2, oh, ow]));
      const [sh, sw] = c.scales ?? [oh / 5, ow / 4];
      const expected = new Float32Array(2 * oh * ow);
      for (let ch = 0; ch < 2; ch++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
        const sy = c.src(y, 5, oh, sh);
        const sx = c.src(xx, 4, ow, sw);
        const row = (r: number) => interpolate1d((k) => at(x, shape, ch, r, k), 4, sx, c.a, c.exclude === 1);
        expected[(ch * oh + y) * ow + xx] = interpolate1d(row, 5, sy, c.a, c.exclude === 1);
      }
      assert.ok(maxRelError(await runModel(bytes, x, shape), expected) < 1e-5);
    });
  }
});
