// The fast input-gradient primitives equal the stock tfjs gradient (cpu reference) on cpu and on wasm.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerMissingKernels } from '../../src/engine/kernels/register';
import { conv2dInputGradFriendly, conv2dTransposeInputGradFriendly, depthwiseConv2dInputGradFriendly } from '../../src/engine/kernels/convolution';
import { maxPoolInputGradFriendly } from '../../src/engine/kernels/pooling';
import {
  batchNormInputGradFriendly, clipInputGradFriendly, leakyReluInputGradFriendly, openIntervalMask, relu6InputGradFriendly,
  reluInputGradFriendly,
} from '../../src/engine/kernels/activations';
import { convGeometry, type ConvPad } from '../../src/engine/kernels/conv_plan';
import { setJsKernelsEnabled } from '../../src/engine/kernels/js_kernel';
import { clearKernelCache, kernelCacheSize } from '../../src/engine/kernels/kernel_cache';
import { setWasmKernelsEnabled, wasmKernelCalls, wasmKernelsFor } from '../../src/engine/kernels/wasm_kernels';
import { lcgValues, sizeOf } from '../helpers/values';

type Pair = [number, number];

const tensor = (shape: number[], seed: number, levels = 0): tf.Tensor => tf.tensor(lcgValues(sizeOf(shape), seed, levels), shape);

/** Runs fn on a backend with fresh tensors and returns plain arrays (data never crosses backends as tensors). */
async function on(backend: string, fn: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  // Cached sub-kernels are owned by the cache, not leaked.
  const live = () => tf.memory().numTensors - kernelCacheSize();
  const before = live();
  const out = tf.tidy(fn);
  const data = out.dataSync() as Float32Array;
  out.dispose();
  assert.equal(live(), before, `tensors leaked on ${backend}`);
  return data;
}

function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= 1e-5 * scale, `${what}: max abs error ${worst} (scale ${scale})`);
}

/** The dilated kernel written out with zeros, so that stock (dilation-1) gradients can serve as reference. */
function dilateKernel(k: tf.Tensor4D, [dh, dw]: Pair): tf.Tensor4D {
  const [kh, kw, a, b] = k.shape;
  const data = k.arraySync();
  const out = tf.buffer([(kh - 1) * dh + 1, (kw - 1) * dw + 1, a, b]);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let p = 0; p < a; p++) for (let q = 0; q < b; q++) {
    out.set(data[i][j][p][q], i * dh, j * dw, p, q);
  }
  return out.toTensor() as tf.Tensor4D;
}

interface ConvCase { x: number[]; k: number[]; s: Pair; pad: ConvPad; d: Pair }
// Few input channels with strides or many outputs take the GEMM + col2im path, the rest phase convs: both covered.
const convCases: ConvCase[] = [
  { x: [2, 9, 11, 5], k: [3, 3, 5, 4], s: [1, 1], pad: 'same', d: [1, 1] },
  { x: [1, 9, 11, 6], k: [3, 3, 6, 4], s: [2, 2], pad: 'same', d: [1, 1] },
  { x: [1, 10, 10, 5], k: [3, 3, 5, 4], s: [2, 2], pad: 'same', d: [1, 1] },
  { x: [1, 10, 9, 5], k: [3, 3, 5, 4], s: [2, 2], pad: 'valid', d: [1, 1] },
  { x: [1, 12, 11, 5], k: [7, 7, 5, 5], s: [2, 2], pad: [[0, 0], [3, 2], [1, 3], [0, 0]], d: [1, 1] },
  { x: [1, 10, 9, 6], k: [1, 1, 6, 6], s: [2, 2], pad: 'same', d: [1, 1] },
  { x: [1, 11, 13, 5], k: [3, 2, 5, 3], s: [3, 2], pad: 'same', d: [1, 1] },
  { x: [1, 10, 9, 5], k: [3, 3, 5, 2], s: [1, 1], pad: 'same', d: [2, 2] },
  { x: [1, 12, 10, 5], k: [3, 3, 5, 2], s: [1, 1], pad: 'valid', d: [2, 3] },
  { x: [1, 9, 9, 5], k: [3, 3, 5, 2], s: [1, 1], pad: [[0, 0], [0, 4], [2, 1], [0, 0]], d: [2, 1] },
  { x: [1, 8, 8, 5], k: [2, 2, 5, 3], s: [1, 1], pad: [[0, 0], [3, 0], [0, 2], [0, 0]], d: [1, 1] },
  { x: [1, 8, 8, 5], k: [4, 4, 5, 3], s: [4, 4], pad: 'valid', d: [1, 1] },
  { x: [2, 9, 11, 3], k: [3, 3, 3, 4], s: [1, 1], pad: 'same', d: [1, 1] },
  { x: [1, 12, 11, 3], k: [7, 7, 3, 5], s: [2, 2], pad: [[0, 0], [3, 2], [1, 3], [0, 0]], d: [1, 1] },
  { x: [1, 10, 9, 2], k: [3, 3, 2, 2], s: [1, 1], pad: 'same', d: [2, 2] },
  { x: [1, 11, 13, 1], k: [3, 2, 1, 3], s: [3, 2], pad: 'valid', d: [1, 1] },
  { x: [1, 9, 9, 3], k: [3, 3, 3, 32], s: [1, 1], pad: [[0, 0], [2, 1], [0, 3], [0, 0]], d: [2, 2] },
  // More phases than the interleave takes: the stock backprop.
  { x: [1, 18, 18, 5], k: [9, 9, 5, 3], s: [9, 9], pad: 'valid', d: [1, 1] },
];

describe('input-gradient kernels', () => {
  before(async () => {
    registerMissingKernels();
    await tf.ready();
  });

  it('resolves conv geometry as tfjs does', () => {
    for (const c of convCases) {
      const info = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.k as [number, number, number, number],
        c.s, c.d, c.pad === 'same' || c.pad === 'valid' ? c.pad : [[0, 0], ...c.pad.slice(1, 3), [0, 0]] as never);
      const g = convGeometry(c.x[1], c.x[2], c.k[0], c.k[1], c.s, c.d, c.pad);
      assert.deepEqual([g.outH, g.outW], [info.outHeight, info.outWidth]);
      assert.deepEqual(g.pad, [info.padInfo.top, info.padInfo.bottom, info.padInfo.left, info.padInfo.right]);
    }
  });

  for (const depthwise of [false, true]) {
    for (const mult of depthwise ? [1, 2] : [1]) {
      it(`${depthwise ? `depthwise (multiplier ${mult})` : 'conv2d'}: input gradient equals the stock one`, async () => {
        for (const [i, c] of convCases.entries()) {
          if (depthwise && c.s[0] !== c.s[1]) continue;
          const kShape = depthwise ? [c.k[0], c.k[1], c.x[3], mult] : c.k;
          const conv = (fast: boolean) => (x: tf.Tensor, k: tf.Tensor4D): tf.Tensor4D => {
            if (fast) {
              return depthwise ? depthwiseConv2dInputGradFriendly(x as tf.Tensor4D, k, c.s, c.pad, c.d)
                : conv2dInputGradFriendly(x as tf.Tensor4D, k, c.s, c.pad, c.d);
            }
            const kd = c.d[0] * c.d[1] > 1 ? dilateKernel(k, c.d) : k;
            return depthwise ? tf.depthwiseConv2d(x as tf.Tensor4D, kd, c.s, c.pad) : tf.conv2d(x as tf.Tensor4D, kd, c.s, c.pad);
          };
          const run = (fast: boolean) => () => {
            const x = tensor(c.x, 10 + i);
            const k = tensor(kShape, 20 + i) as tf.Tensor4D;
            const y = conv(fast)(x, k);
            return tf.grad((v) => tf.sum(tf.mul(conv(fast)(v, k), tensor(y.shape, 30 + i))))(x);
          };
          const want = await on('cpu', run(false));
          assertClose(await on('cpu', run(true)), want, `cpu case ${i}`);
          assertClose(await on('wasm', run(true)), want, `wasm case ${i}`);
          setJsKernelsEnabled(false);
          try {
            assertClose(await on('cpu', run(true)), want, `tf-op fallback case ${i}`);
          } finally {
            setJsKernelsEnabled(true);
          }
        }
        clearKernelCache();
      });
    }
  }

  it('conv backprop is itself differentiable (nested tf.grad) and matches the stock second pass', async () => {
    for (const [i, c] of [...convCases.slice(0, 7), ...convCases.slice(12, 14)].entries()) {
      const run = (fast: boolean) => () => {
        const x = tensor(c.x, 40 + i);
        const k = tensor(c.k, 50 + i) as tf.Tensor4D;
        const conv = (v: tf.Tensor) => (fast ? conv2dInputGradFriendly(v as tf.Tensor4D, k, c.s, c.pad, c.d) : tf.conv2d(v as tf.Tensor4D, k, c.s, c.pad));
        const y = conv(x);
        const s = tensor(c.x, 60 + i);
        // d/dv <S, d/dx <conv(x), v>> = conv(S): the outer gradient runs through the inner backward pass.
        return tf.grad((v) => tf.sum(tf.mul(tf.grad((xx) => tf.sum(tf.mul(conv(xx), v)))(x), s)))(tensor(y.shape, 70 + i));
      };
      const want = await on('cpu', run(false));
      assertClose(await on('wasm', run(true)), want, `nested case ${i}`);
      assertClose(await on('cpu', run(true)), want, `nested cpu case ${i}`);
    }
    clearKernelCache();
  });

  it('conv2dTranspose forward and input gradient equal the stock ones', async () => {
    for (const [s, kh] of [[2, 3], [1, 3], [2, 4], [3, 2]]) {
      const run = (fast: boolean, grad: boolean) => () => {
        const x = tensor([1, 5, 6, 4], s * 7 + kh);
        const k = tensor([kh, kh, 3, 4], 9 + s) as tf.Tensor4D;
        const outShape: [number, number, number, number] = [1, (5 - 1) * s + kh, (6 - 1) * s + kh, 3];
        const f = (v: tf.Tensor) => (fast ? conv2dTransposeInputGradFriendly(v as tf.Tensor4D, k, outShape, [s, s])
          : tf.conv2dTranspose(v as tf.Tensor4D, k, outShape, [s, s], 'valid'));
        return grad ? tf.grad((v) => tf.sum(tf.mul(f(v), tensor(outShape, 3))))(x) : f(x);
      };
      for (const grad of [false, true]) {
        const want = await on('cpu', run(false, grad));
        assertClose(await on('wasm', run(true, grad)), want, `transpose s${s} k${kh} ${grad ? 'grad' : 'value'}`);
      }
    }
    clearKernelCache();
  });

  it('caches sub-kernels per weight and drops them with the weight', async () => {
    await tf.setBackend('wasm');
    clearKernelCache();
    const x = tensor([1, 6, 6, 6], 2);
    const grad = (k: tf.Tensor4D, s: number) =>
      tf.tidy(() => tf.grad((v) => tf.sum(conv2dInputGradFriendly(v as tf.Tensor4D, k, [s, s], 'same', [1, 1])))(x)).dispose();
    const k = tensor([3, 3, 6, 2], 1) as tf.Tensor4D;
    grad(k, 2);
    assert.equal(kernelCacheSize(), 4, 'one sub-kernel per stride phase');
    const n = tf.memory().numTensors;
    grad(k, 2);
    assert.equal(tf.memory().numTensors, n, 'no tensor growth on a second run');
    k.dispose();
    const k2 = tensor([3, 3, 6, 2], 3) as tf.Tensor4D;
    grad(k2, 1);
    assert.equal(kernelCacheSize(), 1, 'entries of a disposed weight are swept on the next miss');
    k2.dispose();
    clearKernelCache();
    assert.equal(tf.memory().numTensors, n - 4 - 1, 'clearing frees every cached tensor');
    x.dispose();
  });

  type PoolPad = 'same' | 'valid' | [number, number, number, number];
  const stockPad = (p: PoolPad) => (typeof p === 'string' ? p : [[0, 0], [p[0], p[1]], [p[2], p[3]], [0, 0]] as [Pair, Pair, Pair, Pair]);
  const poolCases: Array<{ x: number[]; k: Pair; s: Pair; pad: PoolPad }> = [
    { x: [2, 8, 8, 3], k: [2, 2], s: [2, 2], pad: 'same' },
    { x: [1, 9, 7, 3], k: [2, 2], s: [2, 2], pad: 'same' },
    { x: [1, 9, 9, 2], k: [3, 3], s: [2, 2], pad: 'same' },
    { x: [1, 9, 8, 2], k: [3, 3], s: [1, 1], pad: 'valid' },
    { x: [1, 7, 7, 2], k: [3, 2], s: [2, 1], pad: 'same' },
    // Explicit padding (ONNX, ceil mode) goes to the pooling kernel: windows clipped at every border.
    { x: [1, 8, 8, 3], k: [3, 3], s: [2, 2], pad: [1, 1, 1, 1] },
    { x: [1, 7, 9, 2], k: [3, 2], s: [2, 2], pad: [0, 2, 1, 1] },
    // Channels in fours take the wasm SIMD scatter.
    { x: [2, 9, 9, 8], k: [3, 3], s: [2, 2], pad: [1, 1, 1, 1] },
    { x: [1, 9, 8, 4], k: [2, 2], s: [2, 2], pad: 'same' },
    { x: [1, 7, 7, 4], k: [3, 3], s: [1, 1], pad: 'valid' },
  ];

  it('maxPool: input gradient equals the stock one, ties included', async () => {
    for (const [i, c] of poolCases.entries()) {
      for (const levels of [0, 2]) {
        const run = (fast: boolean) => () => {
          // Quantised ReLU outputs make whole windows of equal values: the first maximum must win.
          const x = tf.relu(tensor(c.x, 80 + i, levels)) as tf.Tensor4D;
          const pool = (v: tf.Tensor) => (fast ? maxPoolInputGradFriendly(v as tf.Tensor4D, c.k, c.s, c.pad) : tf.maxPool(v as tf.Tensor4D, c.k, c.s, stockPad(c.pad)));
          const y = pool(x);
          return tf.concat([tf.reshape(y, [-1]), tf.reshape(tf.grad((v) => tf.sum(tf.mul(pool(v), tensor(y.shape, 90 + i))))(x), [-1])]);
        };
        const want = await on('cpu', run(false));
        assertClose(await on('cpu', run(true)), want, `cpu pool ${i}/${levels}`);
        assertClose(await on('wasm', run(true)), want, `wasm pool ${i}/${levels}`);
      }
    }
  });

  it('maxPool backprop is differentiable: its gradient is the adjoint gather', async () => {
    for (const [i, c] of poolCases.entries()) {
      // <scatter(v), S> = <v, gather(S)> for the stock scatter and our gather.
      const x = lcgValues(sizeOf(c.x), 100 + i, 2);
      const pool = (v: tf.Tensor) => maxPoolInputGradFriendly(v as tf.Tensor4D, c.k, c.s, c.pad);
      const gather = await on('wasm', () => {
        const xt = tf.relu(tf.tensor(x, c.x));
        const v0 = tf.zerosLike(pool(xt));
        const s = tensor(c.x, 110 + i);
        return tf.grad((v) => tf.sum(tf.mul(tf.grad((xx) => tf.sum(tf.mul(pool(xx), v)))(xt), s)))(v0);
      });
      const scatterDotS = await on('cpu', () => {
        const xt = tf.relu(tf.tensor(x, c.x) as tf.Tensor) as tf.Tensor4D;
        const y = tf.maxPool(xt, c.k, c.s, stockPad(c.pad));
        const v = tf.tensor(Array.from(lcgValues(sizeOf(y.shape), 120 + i)), y.shape);
        const scatter = tf.grad((xx) => tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, c.k, c.s, stockPad(c.pad)), v)))(xt);
        return tf.stack([tf.sum(tf.mul(scatter, tensor(c.x, 110 + i))), tf.sum(tf.mul(v, tf.tensor(gather, y.shape)))]);
      });
      assert.ok(Math.abs(scatterDotS[0] - scatterDotS[1]) <= 1e-4 * Math.max(1, Math.abs(scatterDotS[0])), `adjoint ${i}`);
    }
  });

  it('maxPool: windows of -Infinity and NaN follow the stock gradient rule (NaN never wins, no maximum: no gradient)', async () => {
    for (const c of [2, 4]) {
      const xs = lcgValues(2 * 6 * 6 * c, 130);
      // A window of -Infinity only (channel 0 of the first window), NaN first in a window, NaN inside one.
      for (const i of [0, c, 6 * c, 7 * c]) xs[i] = -Infinity;
      for (const i of [2 * c + 1, 15 * c, 37 * c + 1]) xs[i] = NaN;
      const run = (fast: boolean, withNaN: boolean) => () => {
        const x = tf.tensor4d(withNaN ? xs : xs.map((v) => (Number.isNaN(v) ? 0.5 : v)), [2, 6, 6, c]);
        const pool = (p: tf.Tensor) => (fast ? maxPoolInputGradFriendly(p as tf.Tensor4D, [2, 2], [2, 2], 'valid') : tf.maxPool(p as tf.Tensor4D, 2, 2, 'valid'));
        return tf.grad((p) => tf.sum(tf.mul(pool(p), tensor([2, 3, 3, c], 131))))(x);
      };
      for (const withNaN of [false, true]) {
        const want = await on('cpu', run(false, withNaN));
        assertClose(await on('wasm', run(true, withNaN)), want, `non-finite windows, ${c} channels${withNaN ? ', NaN' : ''}`);
      }
    }
  });

  it('the wasm SIMD max-pool scatter, col2im and interleave equal the JS loops bit for bit, and are in use', async () => {
    await tf.setBackend('wasm');
    assert.ok(wasmKernelsFor((tf.backend() as unknown as { wasm: { HEAPF32: Float32Array } }).wasm.HEAPF32), 'kernels instantiated');
    const cases: Array<() => tf.Tensor> = [
      () => tf.grad((v) => tf.sum(tf.mul(maxPoolInputGradFriendly(v as tf.Tensor4D, [3, 3], [2, 2], [1, 1, 1, 1]), tensor([2, 8, 8, 12], 141))))(tf.relu(tensor([2, 16, 15, 12], 140, 2))),
      () => tf.grad((v) => tf.sum(tf.mul(conv2dInputGradFriendly(v as tf.Tensor4D, tensor([7, 7, 3, 16], 142) as tf.Tensor4D, [2, 2], [[0, 0], [3, 3], [3, 3], [0, 0]], [1, 1]), tensor([1, 11, 12, 16], 143))))(tensor([1, 21, 23, 3], 144)),
      // Stride phases interleaved back (6 and 10 channels: vector and scalar tails).
      () => tf.grad((v) => tf.sum(tf.mul(conv2dInputGradFriendly(v as tf.Tensor4D, tensor([3, 3, 6, 8], 145) as tf.Tensor4D, [2, 2], 'same', [1, 1]), tensor([2, 6, 5, 8], 146))))(tensor([2, 11, 9, 6], 147)),
      () => tf.grad((v) => tf.sum(tf.mul(depthwiseConv2dInputGradFriendly(v as tf.Tensor4D, tensor([3, 3, 10, 1], 148) as tf.Tensor4D, [2, 2], 'same', [1, 1]), tensor([1, 5, 6, 10], 149))))(tensor([1, 10, 11, 10], 150)),
    ];
    const kernelOf = ['maxPoolScatter', 'col2im', 'interleavePhase', 'interleavePhase'] as const;
    for (const [i, f] of cases.entries()) {
      const before = wasmKernelCalls(kernelOf[i]);
      const simd = await on('wasm', f);
      assert.ok(wasmKernelCalls(kernelOf[i]) > before, `case ${i} ran ${kernelOf[i]}`);
      setWasmKernelsEnabled(false);
      try {
        assert.deepEqual(simd, await on('wasm', f), `case ${i}`);
      } finally {
        setWasmKernelsEnabled(true);
      }
    }
  });

  it('openIntervalMask is exactly [lower < x < upper] at the bounds, their float32 neighbours, denormals and infinities', async () => {
    const f32 = (v: number) => Math.fround(v);
    // The float32 values up to two steps below and above b (bit steps of |b|, mirrored for negatives).
    const step = (v: number, up: boolean): number => {
      if (v === 0) return up ? 1e-45 : -1e-45;
      const a = new Float32Array([Math.abs(v)]);
      new Int32Array(a.buffer)[0] += (v > 0) === up ? 1 : -1;
      return Math.sign(v) * a[0];
    };
    const around = (b: number) => [step(step(b, false), false), step(b, false), b, step(b, true), step(step(b, true), true)];
    const special = [0, -0, 1e-45, -1e-45, 1.2e-38, 3.4e38, -3.4e38, Infinity, -Infinity, 0.5, 5.999, 6, 7, -1];
    for (const [lo, hi] of [[0, 6], [0, Infinity], [-Infinity, 2.5], [0.25, 0.75], [-1, 1.5], [0, 1], [1e-45, 2], [-3.4e38, 3.4e38]]) {
      const xs = [...special, ...[lo, hi].filter(Number.isFinite).flatMap(around)].map(f32);
      const got = await on('wasm', () => openIntervalMask(tf.tensor1d(xs), lo, hi));
      // An infinite bound is no bound: ReLU's region includes x = +Infinity.
      const want = xs.map((x) => ((lo === -Infinity || x > f32(lo)) && (hi === Infinity || x < f32(hi)) ? 1 : 0));
      assert.deepEqual(Array.from(got), want, `(${lo}, ${hi})`);
    }
  });

  const activationCases: Array<[string, (fast: boolean, x: tf.Tensor) => tf.Tensor]> = [
    ['relu', (f, x) => (f ? reluInputGradFriendly(x) : tf.relu(x))],
    ['leakyRelu 0.1', (f, x) => (f ? leakyReluInputGradFriendly(x, 0.1) : tf.leakyRelu(x, 0.1))],
    ['leakyRelu 1.5', (f, x) => (f ? leakyReluInputGradFriendly(x, 1.5) : tf.leakyRelu(x, 1.5))],
    ['relu6', (f, x) => (f ? relu6InputGradFriendly(tf.mul(x, 3)) : tf.relu6(tf.mul(x, 3)))],
    ['clip', (f, x) => (f ? clipInputGradFriendly(x, -1, 2) : tf.clipByValue(x, -1, 2))],
    ['batchNorm', (f, x) => {
      const [m, v, b, g] = [tensor([3], 1), tf.abs(tensor([3], 2)), tensor([3], 3), tensor([3], 4)];
      return f ? batchNormInputGradFriendly(x, m, v, b, g, 1e-3) : tf.batchNorm(x, m, v, b, g, 1e-3);
    }],
    ['batchNorm (no affine)', (f, x) => {
      const [m, v] = [tensor([3], 5), tf.abs(tensor([3], 6))];
      // Stock tf.batchNorm cannot be differentiated without a scale (it saves an undefined tensor).
      return f ? batchNormInputGradFriendly(x, m, v, undefined, undefined, 1e-5) : tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(v, 1e-5)));
    }],
  ];

  for (const [name, act] of activationCases) {
    it(`${name}: value and input gradient equal the stock ones, kinks included`, async () => {
      const run = (fast: boolean) => () => {
        // Quantised inputs hit 0, the clip bounds and 6 exactly.
        const x = tensor([2, 5, 4, 3], 7, 2);
        const y = act(fast, x);
        const g = tf.grad((v) => tf.sum(tf.mul(act(fast, v), tensor(x.shape, 8))))(x);
        return tf.concat([tf.reshape(y, [-1]), tf.reshape(g, [-1])]);
      };
      const want = await on('cpu', run(false));
      assertClose(await on('cpu', run(true)), want, `cpu ${name}`);
      assertClose(await on('wasm', run(true)), want, `wasm ${name}`);
    });
  }

  it('batchNorm folds its weights once per layer: later passes reuse the cached scale and shift', async () => {
    await tf.setBackend('wasm');
    clearKernelCache();
    const [m, v, b, g] = [tensor([3], 1), tf.abs(tensor([3], 2)), tensor([3], 3), tensor([3], 4)];
    const x = tensor([1, 4, 4, 3], 5);
    const pass = () => tf.tidy(() => tf.grad((u) => tf.sum(batchNormInputGradFriendly(u, m, v, b, g, 1e-3)))(x)).dispose();
    pass();
    const cached = kernelCacheSize();
    const live = tf.memory().numTensors;
    pass();
    assert.equal(cached, 2, 'scale and shift cached');
    assert.equal(kernelCacheSize(), cached);
    assert.equal(tf.memory().numTensors, live, 'no tensor made per pass survives it');
    for (const t of [m, v, b, g, x]) t.dispose();
    clearKernelCache();
  });

  it('composes with an activation hook that replaces the gradient (guided backprop)', async () => {
    const run = (fast: boolean) => () => {
      const x = tensor([1, 6, 6, 3], 11, 2);
      const r = tensor([1, 6, 6, 3], 12);
      const guided = tf.customGrad((xIn, save) => {
        (save as tf.GradSaveFunc)([xIn as tf.Tensor]);
        const value = fast ? leakyReluInputGradFriendly(xIn as tf.Tensor, 0.1) : tf.leakyRelu(xIn as tf.Tensor, 0.1);
        return { value, gradFunc: (dy, [xs]) => tf.mul(tf.mul(dy, tf.step(xs)), tf.step(dy)) };
      });
      return tf.grad((v) => tf.sum(tf.mul(guided(v), r)))(x);
    };
    const want = await on('cpu', run(false));
    assertClose(await on('wasm', run(true)), want, 'guided hook');
  });

  it('resize gradients are the exact adjoints of the forward resizes (half-pixel, align-corners, non-square)', async () => {
    const configs: Array<[string, number[], Pair, boolean, boolean]> = [
      ['bilinear', [2, 7, 6, 3], [11, 13], false, true], ['bilinear', [1, 7, 6, 2], [11, 13], true, false],
      ['bilinear', [1, 5, 9, 2], [4, 4], false, false], ['bilinear', [1, 6, 4, 1], [3, 9], false, true],
      ['nearest', [2, 7, 6, 3], [14, 9], false, true], ['nearest', [1, 7, 6, 2], [5, 13], true, false],
      ['nearest', [1, 5, 9, 2], [4, 4], false, false], ['nearest', [1, 6, 4, 1], [3, 9], false, true],
    ];
    for (const [i, [method, shape, out, align, half]] of configs.entries()) {
      const resize = (v: tf.Tensor) => (method === 'bilinear' ? tf.image.resizeBilinear(v as tf.Tensor4D, out, align, half)
        : tf.image.resizeNearestNeighbor(v as tf.Tensor4D, out, align, half));
      for (const backend of ['cpu', 'wasm']) {
        // <grad_x <resize(x), v>, u> = <resize(u), v> for the trusted forward resize.
        const [lhs, rhs] = await on(backend, () => {
          const v = tensor([shape[0], out[0], out[1], shape[3]], 130 + i);
          const u = tensor(shape, 140 + i);
          const g = tf.grad((x) => tf.sum(tf.mul(resize(x), v)))(tensor(shape, 150 + i));
          return tf.stack([tf.sum(tf.mul(g, u)), tf.sum(tf.mul(resize(u), v))]);
        });
        assert.ok(Math.abs(lhs - rhs) <= 1e-4 * Math.max(1, Math.abs(rhs)), `${backend} ${method} case ${i}: ${lhs} vs ${rhs}`);
      }
    }
  });

  it('draws seeded uniform noise on wasm (tf.randomUniform is a JS op, no RandomUniform kernel needed)', async () => {
    const draw = () => tf.randomUniform([1000], -0.5, 0.5, 'float32', 42);
    const [a, b] = [await on('wasm', draw), await on('cpu', draw)];
    assert.deepEqual(a, b);
    assert.ok(a.every((v) => v >= -0.5 && v < 0.5));
  });

  it('provides DepthwiseConv2dNativeBackpropInput and a StridedSlice gradient on wasm', async () => {
    for (const [s, pad, mult] of [[1, 'same', 1], [2, 'same', 2], [2, 'valid', 1]] as const) {
      const run = () => {
        const x = tensor([1, 7, 8, 3], 5);
        const k = tensor([3, 3, 3, mult], 6) as tf.Tensor4D;
        const f = (v: tf.Tensor) => tf.depthwiseConv2d(v as tf.Tensor4D, k, s, pad);
        return tf.grad((v) => tf.sum(tf.mul(f(v), tensor(f(x).shape, 7))))(x);
      };
      assertClose(await on('wasm', run), await on('cpu', run), `stock depthwise grad s${s} ${pad} m${mult}`);
    }
    const strided = () => {
      const x = tensor([2, 7, 6, 3], 9);
      const f = (v: tf.Tensor) => tf.stridedSlice(v, [0, 1, 0, 0], [2, 7, 5, 3], [1, 2, 3, 1]);
      return tf.grad((v) => tf.sum(tf.mul(f(v), tensor(f(x).shape, 4))))(x);
    };
    const want = await on('cpu', strided);
    assertClose(await on('wasm', strided), want, 'stridedSlice grad');
    // The adjoint picks exactly the sliced elements: rows 1,3,5 and columns 0,3.
    const w = tf.tensor(want, [2, 7, 6, 3]).arraySync() as number[][][][];
    assert.equal(w[0][0][0][0], 0);
    assert.notEqual(w[0][1][0][0], 0);
    assert.equal(w[0][2][0][0], 0);
    assert.notEqual(w[0][3][3][1], 0);
    assert.equal(w[0][3][4][1], 0);
  });
});
