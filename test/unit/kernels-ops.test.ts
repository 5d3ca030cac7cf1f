// Every op of the executor is differentiable with respect to its input on wasm, and its value and input
// gradient there equal the stock tfjs ones computed on the cpu backend.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerMissingKernels } from '../../src/engine/kernels/register';
import { setFastGradientsEnabled } from '../../src/engine/kernels/js_kernel';
import { clearKernelCache, kernelCacheSize } from '../../src/engine/kernels/kernel_cache';
import { lcgValues, sizeOf } from '../helpers/values';
import { OP_IMPLS } from '../../src/engine/graph/ops';
import { openIntervalMask } from '../../src/engine/kernels/activations';
import { maskedScale } from '../../src/engine/kernels/masked_scale';
import type { AttrValue, GraphNode, OpType } from '../../src/engine/graph/ir';


/** Kinds of values: signed, positive (logs, roots, divisors), quantised (ties and kinks hit exactly). */
type Kind = 'signed' | 'positive' | 'quantised';
function values(shape: number[], seed: number, kind: Kind = 'signed'): tf.Tensor {
  const v = lcgValues(sizeOf(shape), seed, kind === 'quantised' ? 2 : 0);
  return tf.tensor(kind === 'positive' ? v.map((a) => Math.abs(a) + 0.5) : v, shape);
}

interface OpCase {
  op: OpType;
  x: number[];
  /** Node attributes (paddings are nested arrays, which AttrValue does not spell out). */
  attrs?: Record<string, unknown>;
  weights?: Record<string, number[]>;
  /** Shape of a constant second input. */
  second?: number[];
  kind?: Kind;
  secondKind?: Kind;
  /** Stock tfjs cannot differentiate this case (dilations): the cpu reference uses our verified fast path. */
  fastReference?: boolean;
}

const X = [2, 7, 6, 4];
const pads = ['same', 'valid', [1, 0, 2, 1]] as const;
const cases: OpCase[] = [
  // 4 input channels take the GEMM + col2im gradient, 6 the phase-conv one.
  ...pads.flatMap((padding) => [1, 2].flatMap((s) => [4, 6].map((ci): OpCase => ({
    op: 'conv2d', x: [2, 7, 6, ci], attrs: { strides: [s, s], padding }, weights: { kernel: [3, 3, ci, 5], bias: [5] },
  })))),
  { op: 'conv2d', x: X, attrs: { padding: 'same', dilations: [2, 2] }, weights: { kernel: [3, 3, 4, 5] }, fastReference: true },
  { op: 'conv2d', x: X, attrs: { padding: 'same', groups: 2 }, weights: { kernel: [3, 3, 2, 6] } },
  { op: 'conv2d', x: X, attrs: { strides: [2, 2], padding: [1, 1, 1, 1], groups: 4 }, weights: { kernel: [3, 3, 1, 8] } },
  ...pads.flatMap((padding) => [1, 2].flatMap((s) => [1, 2].map((m): OpCase => ({
    op: 'depthwiseConv2d', x: X, attrs: { strides: [s, s], padding }, weights: { kernel: [3, 3, 4, m], bias: [4 * m] },
  })))),
  { op: 'depthwiseConv2d', x: X, attrs: { padding: 'same', dilations: [2, 2] }, weights: { kernel: [3, 3, 4, 2] }, fastReference: true },
  { op: 'conv2dTranspose', x: X, attrs: { strides: [2, 2], padding: [1, 1, 1, 1], outputPadding: [1, 1] }, weights: { kernel: [3, 3, 5, 4], bias: [5] } },
  { op: 'conv2dTranspose', x: X, attrs: { strides: [1, 1] }, weights: { kernel: [2, 2, 3, 4] } },
  { op: 'maxPool', x: X, attrs: { kernel: [2, 2], strides: [2, 2], padding: 'same' }, kind: 'quantised' },
  { op: 'maxPool', x: X, attrs: { kernel: [3, 3], strides: [2, 2], padding: 'valid' }, kind: 'quantised' },
  { op: 'maxPool', x: X, attrs: { kernel: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1] } },
  { op: 'maxPool', x: X, attrs: { kernel: [2, 2], strides: [2, 2], padding: 'valid', ceilMode: true } },
  { op: 'avgPool', x: X, attrs: { kernel: [2, 2], strides: [2, 2], padding: 'same' } },
  { op: 'avgPool', x: X, attrs: { kernel: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1], countIncludePad: true } },
  { op: 'avgPool', x: X, attrs: { kernel: [3, 3], strides: [2, 2], padding: [1, 0, 1, 0], ceilMode: true } },
  { op: 'dense', x: [2, 12], weights: { kernel: [12, 5], bias: [5] } },
  { op: 'dense', x: [2, 3, 12], weights: { kernel: [12, 5] } },
  { op: 'matmul', x: [2, 3], second: [4, 3], attrs: { transposeB: true } },
  { op: 'affine', x: X, weights: { scale: [4], shift: [4] } },
  { op: 'batchNorm', x: X, attrs: { epsilon: 1e-3 }, weights: { mean: [4], variance: [4], gamma: [4], beta: [4] } },
  { op: 'instanceNorm', x: X, weights: { gamma: [4], beta: [4] } },
  { op: 'layerNorm', x: X, attrs: { axes: [3], epsilon: 1e-6 }, weights: { gamma: [4], beta: [4] } },
  { op: 'layerNorm', x: X, attrs: { axes: [1, 2, 3] }, weights: { gamma: [7, 6, 4] } },
  ...(['relu', 'relu6', 'selu', 'sigmoid', 'hardSwish', 'swish', 'gelu', 'tanh', 'softplus', 'erf', 'exp', 'identity', 'neg', 'abs'] as const)
    .map((op): OpCase => ({ op, x: X, kind: op === 'abs' ? 'signed' : 'quantised' })),
  { op: 'clip', x: X, attrs: { min: -1, max: 1.5 }, kind: 'quantised' },
  { op: 'leakyRelu', x: X, attrs: { alpha: 0.1 }, kind: 'quantised' },
  { op: 'prelu', x: X, weights: { alpha: [4] } },
  { op: 'elu', x: X },
  { op: 'elu', x: X, attrs: { alpha: 0.5 } },
  { op: 'hardSigmoid', x: X, attrs: { alpha: 0.2, beta: 0.5 }, kind: 'quantised' },
  { op: 'log', x: X, kind: 'positive' },
  { op: 'sqrt', x: X, kind: 'positive' },
  { op: 'reciprocal', x: X, kind: 'positive' },
  { op: 'softmax', x: [2, 5] },
  { op: 'softmax', x: [2, 5, 3], attrs: { axis: 1 } },
  { op: 'logSoftmax', x: [2, 5] },
  { op: 'globalAvgPool', x: X },
  { op: 'globalMaxPool', x: X, attrs: { keepDims: true } },
  { op: 'mean', x: X, attrs: { axes: [1, 2], keepDims: true } },
  { op: 'sum', x: X, attrs: { axes: [3] } },
  { op: 'max', x: X, attrs: { axes: [1] } },
  ...(['add', 'sub', 'mul', 'maximum', 'minimum'] as const).map((op): OpCase => ({ op, x: X, second: [4] })),
  { op: 'div', x: X, second: [1, 7, 1, 4], secondKind: 'positive' },
  { op: 'pow', x: X, second: [4], kind: 'positive' },
  { op: 'reshape', x: X, attrs: { shape: [2, -1, 4] } },
  { op: 'flatten', x: X },
  { op: 'transpose', x: X, attrs: { perm: [0, 3, 1, 2] } },
  { op: 'squeeze', x: [2, 1, 6, 4], attrs: { axes: [1] } },
  { op: 'expandDims', x: X, attrs: { axis: 1 } },
  { op: 'concat', x: X, second: [2, 7, 6, 3], attrs: { axis: -1 } },
  { op: 'pad', x: X, attrs: { paddings: [[0, 0], [1, 2], [2, 1], [0, 0]], value: 0.5 } },
  { op: 'pad', x: X, attrs: { paddings: [[0, 0], [1, 2], [2, 1], [0, 0]], mode: 'reflect' } },
  { op: 'pad', x: X, attrs: { paddings: [[0, 0], [1, 2], [2, 1], [0, 0]], mode: 'symmetric' } },
  { op: 'slice', x: X, attrs: { begin: [0, 1, 1, 0], size: [-1, 4, 5, 2] } },
  { op: 'slice', x: X, attrs: { begin: [0, 1, 0, 0], size: [-1, 3, 3, -1], strides: [1, 2, 2, 1] } },
  { op: 'resize', x: X, attrs: { size: [14, 9], method: 'nearest' } },
  { op: 'resize', x: X, attrs: { size: [11, 13], method: 'bilinear' } },
  { op: 'resize', x: X, attrs: { size: [11, 13], method: 'bilinear', alignCorners: true } },
  { op: 'resize', x: X, attrs: { size: [11, 4], method: 'cubic', coordinateMode: 'half_pixel' } },
  { op: 'resize', x: X, attrs: { size: [11, 13], method: 'cubic', coordinateMode: 'align_corners', cubicCoeffA: -0.5, excludeOutside: true } },
  { op: 'resize', x: X, attrs: { size: [11, 10], ratio: [1 / 1.7, 1 / 1.7], method: 'cubic', coordinateMode: 'pytorch_half_pixel' } },
];

function runCase(c: OpCase, i: number, fast: boolean) {
  return () => {
    setFastGradientsEnabled(fast);
    try {
      const x = values(c.x, 100 + i, c.kind);
      const extra = c.second ? [values(c.second, 200 + i, c.secondKind)] : [];
      const weights: Record<string, tf.Tensor> = {};
      for (const [name, shape] of Object.entries(c.weights ?? {})) {
        weights[name] = values(shape, 300 + i + name.length, name === 'variance' ? 'positive' : 'signed');
      }
      const attrs = (c.attrs ?? {}) as Record<string, AttrValue>;
      const node: GraphNode = { name: c.op, op: c.op, inputs: ['x'], attrs, weights, sourceOp: c.op };
      const f = (v: tf.Tensor) => OP_IMPLS[c.op]([v, ...extra], node);
      const y = f(x);
      const g = tf.grad((v) => tf.sum(tf.mul(f(v), values(y.shape, 400 + i))))(x);
      return tf.concat([tf.reshape(y, [-1]), tf.reshape(g, [-1])]);
    } finally {
      setFastGradientsEnabled(true);
    }
  };
}

async function on(backend: string, fn: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const live = () => tf.memory().numTensors - kernelCacheSize();
  const start = live();
  const out = tf.tidy(fn);
  const data = out.dataSync() as Float32Array;
  out.dispose();
  assert.equal(live(), start, `tensors leaked on ${backend}`);
  return data;
}

describe('every executor op on wasm', () => {
  before(async () => {
    registerMissingKernels();
    await tf.ready();
  });

  it('has a gradient case for each op', () => {
    const covered = new Set(cases.map((c) => c.op));
    const missing = Object.keys(OP_IMPLS).filter((op) => op !== 'const' && !covered.has(op as OpType));
    assert.deepEqual(missing, []);
  });

  for (const [i, c] of cases.entries()) {
    it(`${c.op} ${JSON.stringify(c.attrs ?? {})}: value and input gradient equal the stock cpu ones`, async () => {
      const want = await on('cpu', runCase(c, i, c.fastReference === true));
      const got = await on('wasm', runCase(c, i, true));
      assert.equal(got.length, want.length);
      let scale = 1;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      for (let k = 0; k < got.length; k++) worst = Math.max(worst, Math.abs(got[k] - want[k]));
      assert.ok(worst <= 1e-5 * scale, `max abs error ${worst} (scale ${scale})`);
    });
  }

  it('leaves no cached sub-kernels behind once their weights are gone', () => {
    clearKernelCache();
    assert.equal(kernelCacheSize(), 0);
  });
});

describe('activation gradients in one kernel', () => {
  before(async () => {
    registerMissingKernels();
    await tf.ready();
  });

  it('maskedScale is dy times the stock mask, bit for bit, at bounds, neighbours, denormals, infinities and NaN', async () => {
    const near = (b: number): number[] => {
      const a = new Float32Array([b, b, b, b]);
      const i = new Int32Array(a.buffer);
      i[0] += 1;
      i[1] -= 1;
      return [b, a[0], a[1], -b];
    };
    const special = [0, -0, 1e-45, -1e-45, 1.2e-38, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 0.5, 6, 7, -1, 2, -2.5];
    // An odd length: the last elements take the scalar tail after the SIMD vectors.
    const xs = [...special, ...[6, 2, 1, 0.5, 1e-45].flatMap(near)].slice(0, 35);
    const dys = xs.map((_, i) => [1.5, -2, 0, -0, Infinity, 3][i % 6]);
    const bitsOf = (v: Float32Array) => Array.from(new Int32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
    const cases: Array<[string, number, number, number, (x: tf.Tensor) => tf.Tensor]> = [
      ['relu', 0, Infinity, 0, (x) => tf.step(x)],
      ['leaky 0.1', 0, Infinity, 0.1, (x) => tf.step(x, 0.1)],
      ['relu6', 0, Math.fround(6 + 4.8e-7), 0, (x) => openIntervalMask(x, 0, Math.fround(6 + 4.8e-7))],
      ['clip [-1, 2]', -Math.fround(1 + 1.2e-7), Math.fround(2 + 2.4e-7), 0, (x) => openIntervalMask(x, -Math.fround(1 + 1.2e-7), Math.fround(2 + 2.4e-7))],
      ['(-inf, 2.5)', -Infinity, 2.5, 0, (x) => openIntervalMask(x, -Infinity, 2.5)],
    ];
    for (const backend of ['cpu', 'wasm']) {
      for (const [name, lower, upper, alpha, mask] of cases) {
        const got = await on(backend, () => maskedScale(tf.tensor1d(dys), tf.tensor1d(xs), lower, upper, alpha));
        const want = await on(backend, () => tf.mul(tf.tensor1d(dys), mask(tf.tensor1d(xs))));
        const nan = (v: Float32Array) => Array.from(v, (x) => Number.isNaN(x));
        assert.deepEqual(nan(got), nan(want), `${backend} ${name}: NaN where the stock mask gives NaN`);
        const finite = (v: Float32Array) => bitsOf(v).filter((_, i) => !Number.isNaN(want[i]));
        assert.deepEqual(finite(got), finite(want), `${backend} ${name}`);
      }
    }
  });
});
