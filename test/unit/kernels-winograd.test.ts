// Winograd F(4×4, 3×3) and F(2×2, 3×3) convolutions on wasm equal the direct convolution, forward and input gradient.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { registerMissingKernels } from '../../src/engine/kernels/register';
import { conv2dInputGradFriendly } from '../../src/engine/kernels/convolution';
import type { ConvPad } from '../../src/engine/kernels/conv_plan';
import { setFastGradientsEnabled } from '../../src/engine/kernels/js_kernel';
import { kernelCacheSize } from '../../src/engine/kernels/kernel_cache';
import { setWasmKernelsEnabled, wasmKernelCalls } from '../../src/engine/kernels/wasm_kernels';
import { winogradConv2d, winogradSuits, winogradTile } from '../../src/engine/kernels/winograd';
import { lcgValues, sizeOf } from '../helpers/values';

const tensor = (shape: number[], seed: number): tf.Tensor => tf.tensor(lcgValues(sizeOf(shape), seed), shape);
// F(4×4)'s transforms (coefficients up to 8 and 1/24) round ~100× more than a direct conv (~1e-7 here);
// a broken transform or tile edge gives errors of order 1.
const TOLERANCE = 2e-5;

/** max |got − want| / max |want|. */
function relError(got: tf.Tensor, want: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] / tf.max(tf.abs(want)).dataSync()[0]);
}

interface Case { x: number[]; co: number; pad: ConvPad }
// Odd sizes leave partial tiles at the bottom and right; the explicit paddings are asymmetric. Each has
// enough multiply-adds for the executor's convs to choose Winograd.
const cases: Case[] = [
  { x: [1, 24, 24, 32], co: 32, pad: 'same' },
  { x: [2, 25, 23, 24], co: 28, pad: 'valid' },
  { x: [1, 30, 17, 32], co: 36, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  { x: [3, 13, 13, 64], co: 16, pad: 'same' },
  // More than 256×256 channel pairs: F(2×2, 3×3).
  { x: [1, 7, 5, 260], co: 256, pad: 'same' },
  { x: [2, 6, 6, 264], co: 260, pad: [[0, 0], [0, 1], [2, 1], [0, 0]] },
];

describe('Winograd F(m×m, 3×3) on wasm', () => {
  before(async () => {
    await tf.setBackend('wasm');
    registerMissingKernels();
  });
  after(() => setWasmKernelsEnabled(true));

  it('is chosen only for 3×3 stride-1 convolutions with enough channels', () => {
    assert.ok(winogradSuits([1, 56, 56, 64], [3, 3, 64, 64], [1, 1], [1, 1]));
    assert.ok(!winogradSuits([1, 56, 56, 64], [3, 3, 64, 64], [2, 2], [1, 1]), 'stride 2');
    assert.ok(!winogradSuits([1, 56, 56, 64], [3, 3, 64, 64], [1, 1], [2, 2]), 'dilation 2');
    assert.ok(!winogradSuits([1, 56, 56, 64], [5, 5, 64, 64], [1, 1], [1, 1]), '5×5');
    assert.ok(!winogradSuits([1, 224, 224, 3], [3, 3, 3, 64], [1, 1], [1, 1]), 'three input channels');
    assert.ok(!winogradSuits([1, 8, 8, 16], [3, 3, 16, 16], [1, 1], [1, 1]), 'too little work');
    assert.ok(winogradSuits([1, 7, 7, 512], [3, 3, 512, 512], [1, 1], [1, 1]), '512×512 channels');
    assert.equal(winogradTile([3, 3, 256, 256]), 4);
    assert.equal(winogradTile([3, 3, 512, 512]), 2);
  });

  for (const c of cases) {
    const m = winogradTile([3, 3, c.x[3], c.co]);
    const what = `F(${m}×${m}) x ${c.x} → ${c.co} channels, pad ${JSON.stringify(c.pad)}`;
    it(`${what}: value (with bias) equals the direct conv, in SIMD and in JS`, () => {
      const x = tensor(c.x, 1) as tf.Tensor4D;
      const k = tensor([3, 3, c.x[3], c.co], 2) as tf.Tensor4D;
      const bias = tensor([c.co], 3);
      const want = tf.add(tf.conv2d(x, k, 1, c.pad), bias);
      const calls = wasmKernelCalls(m === 2 ? 'winogradOutput2' : 'winogradOutput4');
      const simd = winogradConv2d(x, k, c.pad, bias);
      assert.equal(wasmKernelCalls(m === 2 ? 'winogradOutput2' : 'winogradOutput4'), calls + 1, 'the SIMD kernels ran');
      setWasmKernelsEnabled(false);
      const js = winogradConv2d(x, k, c.pad, bias);
      setWasmKernelsEnabled(true);
      assert.deepEqual(simd.shape, want.shape);
      assert.ok(relError(simd, want) < TOLERANCE, `SIMD: ${relError(simd, want)}`);
      assert.ok(relError(js, want) < TOLERANCE, `JS: ${relError(js, want)}`);
      tf.dispose([x, k, bias, want, simd, js]);
    });

    it(`${what}: input gradient equals the stock gradient`, () => {
      const x = tensor(c.x, 4) as tf.Tensor4D;
      const k = tensor([3, 3, c.x[3], c.co], 5) as tf.Tensor4D;
      const weight = tensor([c.x[0], ...tf.conv2d(x, k, 1, c.pad).shape.slice(1)], 6);
      const loss = (xx: tf.Tensor): tf.Scalar => tf.sum(tf.mul(conv2dInputGradFriendly(xx as tf.Tensor4D, k, [1, 1], c.pad, [1, 1]), weight));
      const calls = wasmKernelCalls(m === 2 ? 'winogradInput2' : 'winogradInput4');
      const got = tf.grad(loss)(x);
      assert.equal(wasmKernelCalls(m === 2 ? 'winogradInput2' : 'winogradInput4'), calls + 2, 'forward and backward both ran as Winograd');
      setFastGradientsEnabled(false);
      const want = tf.grad(loss)(x);
      setFastGradientsEnabled(true);
      assert.ok(relError(got, want) < TOLERANCE, `${relError(got, want)}`);
      tf.dispose([x, k, weight, got, want]);
    });
  }

  it('leaks no tensors over repeated runs (transformed kernels stay cached, owned by the cache)', () => {
    const x = tensor([1, 24, 24, 32], 7) as tf.Tensor4D;
    const k = tensor([3, 3, 32, 32], 8) as tf.Tensor4D;
    const run = () => tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(conv2dInputGradFriendly(xx as tf.Tensor4D, k, [1, 1], 'same', [1, 1])))(x)).dispose();
    run();
    const live = tf.memory().numTensors - kernelCacheSize();
    for (let i = 0; i < 5; i++) run();
    assert.equal(tf.memory().numTensors - kernelCacheSize(), live);
    tf.dispose([x, k]);
  });
});
