// Kernel threads: our wasm kernels split across the engine's thread and a worker on the shared wasm memory.
// Pieces cover every output once, split results are bit-identical to unsplit ones, the worker really takes
// pieces, and the GEMM convolution (im2col + GEMM) and the channel-padded image-layer gradient are right.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { threadsLabel } from '../../src/engine/backend';
import { COL2IM, IM2COL, type Windows } from '../../src/engine/kernels/col2im';
import { conv2dInputGradFriendly } from '../../src/engine/kernels/convolution';
import { gemmConv2d, gemmConvSuits } from '../../src/engine/kernels/gemm_conv';
import { runJsKernel, setFastGradientsEnabled } from '../../src/engine/kernels/js_kernel';
import { injectKernelThreadFault, kernelThreadsNote, kernelWorkerPieces, setKernelThreadsGate, splitRange } from '../../src/engine/kernels/kernelThreads';
import { matMulBias } from '../../src/engine/kernels/matmul_bias';
import { maskedScale } from '../../src/engine/kernels/masked_scale';
import { subKernelBytes } from '../../src/engine/kernels/kernel_cache';
import { gemmPieces } from '../../src/engine/kernels/wasm_gemm';
import { setWasmKernelsEnabled } from '../../src/engine/kernels/wasm_kernels';
import type { ConvPad } from '../../src/engine/kernels/conv_plan';
import { LoadedModel } from '../../src/engine/model';
import { inputGradient } from '../../src/engine/methods/gradients';
import { disposeGraph, type Graph } from '../../src/engine/graph/ir';
import { node, randomTensor } from '../helpers/graphs';
import { bits, KERNEL_THREADS_SKIP, kernelThreadHooks, withThreads } from '../helpers/kernelThreads';


/**
 * Runs `f` with kernel threads until the worker has taken a piece of one run (a worker asleep after 20 ms
 * without work may wake too late for a short job, which the engine's thread then finishes alone).
 */
function splitRun<T extends tf.Tensor>(f: () => T): T {
  for (let attempt = 0; ; attempt++) {
    const before = kernelWorkerPieces();
    const out = withThreads(true, f);
    if (kernelWorkerPieces() > before || attempt === 50) return out;
    out.dispose();
  }
}


describe('gemmPieces', () => {
  /** Marks the outputs each piece writes; every one of batch × rows × cols must be written exactly once. */
  function coverage(batch: number, rows: number, cols: number, threads: number): number[] {
    const hits = new Array<number>(batch * rows * cols).fill(0);
    const pieces = gemmPieces(0, 0, 0, batch, rows, 7, cols, 0, (n) => splitRange(n, 1e9, threads));
    for (const [, , c, pb, pr, , pc, , ldb, ldc] of pieces) {
      assert.equal(ldb, cols);
      assert.equal(ldc, cols);
      for (let k = 0; k < pb; k++) {
        for (let r = 0; r < pr; r++) for (let q = 0; q < pc; q++) hits[c / 4 + (k * rows + r) * ldc + q]++;
      }
    }
    return hits;
  }
  for (const [batch, rows, cols] of [[36, 196, 64], [16, 16, 512], [1, 12544, 64], [1, 49, 512], [1, 3, 12], [1, 5, 20], [2, 9, 8]]) {
    it(`covers a ${batch}×${rows}×${cols} product exactly once on 2 threads`, () => {
      assert.ok(coverage(batch, rows, cols, 2).every((h) => h === 1));
    });
  }
  it('splits rows only in whole 4-row blocks, and few rows by 8-column blocks', () => {
    const rowsSplit = gemmPieces(0, 0, 0, 1, 1001, 3, 8, 0, (n) => splitRange(n, 1e9, 2));
    assert.ok(rowsSplit.length > 1 && rowsSplit.slice(0, -1).every((p) => p[4] % 4 === 0), 'row pieces are whole blocks');
    const colsSplit = gemmPieces(0, 0, 0, 1, 7, 3, 64, 0, (n) => splitRange(n, 1e9, 2));
    assert.ok(colsSplit.length > 1 && colsSplit.every((p) => p[4] === 7 && p[6] % 8 === 0), 'column pieces keep every row');
  });
  it('steps through a padded b by its own row length, in every kind of piece', () => {
    const ldb = 24;
    const byBatch = gemmPieces(0, 0, 0, 2, 3, 5, 8, 0, (n) => splitRange(n, 1e9, 2), ldb);
    // A batch piece starting at product k starts at c = k·3·8 floats and b = k·5·ldb floats.
    assert.ok(byBatch.length > 1 && byBatch.every((p) => p[1] / (5 * ldb) === p[2] / (3 * 8) && p[8] === ldb && p[9] === 8));
    const byRows = gemmPieces(0, 0, 0, 1, 1001, 3, 8, 0, (n) => splitRange(n, 1e9, 2), ldb);
    assert.ok(byRows.length > 1 && byRows.every((p) => p[1] === 0 && p[8] === ldb && p[9] === 8));
    const byCols = gemmPieces(0, 0, 0, 1, 7, 3, 64, 0, (n) => splitRange(n, 1e9, 2), 80);
    assert.ok(byCols.length > 1 && byCols.every((p) => p[1] === p[2] && p[8] === 80 && p[9] === 64));
  });
});

describe('kernel threads on the threaded wasm build', { skip: KERNEL_THREADS_SKIP }, () => {
  before(kernelThreadHooks.start);
  after(kernelThreadHooks.stop);

  it('reports the kernel thread beside the engine thread', () => {
    assert.match(threadsLabel() ?? '', /\+ 1 kernel thread$/);
  });

  it('an activation gradient (maskedScale) is bit-identical split or not, and the worker takes pieces', () => {
    const x = randomTensor([1, 56, 56, 96], 3, -2, 8);
    const dy = randomTensor([1, 56, 56, 96], 4);
    const pieces = kernelWorkerPieces();
    const split = splitRun(() => maskedScale(dy, x, 0, 6.0000005, 0));
    assert.ok(kernelWorkerPieces() > pieces, 'the worker took pieces');
    const alone = withThreads(false, () => maskedScale(dy, x, 0, 6.0000005, 0));
    assert.deepEqual(bits(split), bits(alone));
    tf.dispose([x, dy, split, alone]);
  });

  it('matMulBias equals a float64 product, split or not, bit for bit', () => {
    // The last two read b through a copy with padded rows (1024 rows or more, 256 columns): by columns and by rows.
    const cases = [[49, 300, 68, true], [517, 33, 16, false], [3, 10, 12, true], [1030, 64, 148, false], [9, 1030, 256, true], [40, 1024, 256, false]] as const;
    for (const [rows, inner, cols, bias] of cases) {
      const a = randomTensor([rows, inner], rows);
      const b = randomTensor([inner, cols], cols);
      const bv = bias ? randomTensor([cols], 5) : undefined;
      const pieces = kernelWorkerPieces();
      const split = splitRun(() => matMulBias(a, b, bv));
      assert.equal(subKernelBytes([b]) > 0, inner >= 1024, `${rows}×${inner}×${cols}: padded copy of b`);
      if (rows * inner * cols >= 1e6) assert.ok(kernelWorkerPieces() > pieces, `the worker took pieces of ${rows}×${inner}×${cols}`);
      const alone = withThreads(false, () => matMulBias(a, b, bv));
      assert.deepEqual(bits(split), bits(alone), `${rows}×${inner}×${cols}: split = unsplit`);
      const [A, B, C] = [a.dataSync(), b.dataSync(), split.dataSync()];
      const bias64 = bv?.dataSync();
      let worst = 0;
      for (let r = 0; r < rows; r++) {
        for (let q = 0; q < cols; q++) {
          let s = bias64 ? bias64[q] : 0;
          for (let i = 0; i < inner; i++) s += A[r * inner + i] * B[i * cols + q];
          worst = Math.max(worst, Math.abs(C[r * cols + q] - s));
        }
      }
      assert.ok(worst < 1e-4, `${rows}×${inner}×${cols}: max error ${worst}`);
      tf.dispose([a, b, bv, split, alone].filter((t): t is tf.Tensor => t !== undefined));
    }
  });

  const geometries: Array<{ x: number[]; k: number[]; s: [number, number]; pad: ConvPad; d: [number, number] }> = [
    { x: [1, 64, 64, 3], k: [7, 7, 3, 64], s: [2, 2], pad: [[0, 0], [3, 3], [3, 3], [0, 0]], d: [1, 1] },
    { x: [2, 29, 31, 16], k: [3, 3, 16, 32], s: [2, 2], pad: 'same', d: [1, 1] },
    { x: [1, 40, 36, 64], k: [1, 1, 64, 96], s: [2, 2], pad: 'valid', d: [1, 1] },
    { x: [1, 32, 32, 64], k: [1, 1, 64, 64], s: [1, 1], pad: 'valid', d: [1, 1] },
    { x: [1, 25, 27, 16], k: [3, 5, 16, 24], s: [1, 1], pad: [[0, 0], [0, 4], [5, 1], [0, 0]], d: [2, 1] },
  ];

  for (const g of geometries) {
    const what = `x ${g.x}, kernel ${g.k}, strides ${g.s}, pad ${JSON.stringify(g.pad)}, dilation ${g.d}`;
    it(`im2col in wasm equals the JS walk: ${what}`, () => {
      const [n, h, w, c] = g.x;
      const [kh, kw] = g.k;
      const x = randomTensor(g.x, 3);
      const y = tf.conv2d(x as tf.Tensor4D, tf.zeros([kh, kw, c, 1]) as tf.Tensor4D, g.s, g.pad, 'NHWC', g.d);
      const geo = { t: 0, l: 0 };
      if (g.pad === 'same') {
        geo.t = Math.floor(Math.max(0, (y.shape[1] - 1) * g.s[0] + (kh - 1) * g.d[0] + 1 - h) / 2);
        geo.l = Math.floor(Math.max(0, (y.shape[2] - 1) * g.s[1] + kw - w) / 2);
      } else if (g.pad !== 'valid') {
        [geo.t, geo.l] = [g.pad[1][0], g.pad[2][0]];
      }
      const windows: Windows = { n, h, w, c, kh, kw, sh: g.s[0], sw: g.s[1], dh: g.d[0], dw: g.d[1], pt: geo.t, pl: geo.l, oh: y.shape[1], ow: y.shape[2] };
      const attrs = windows as unknown as tf.NamedAttrMap;
      const simd = withThreads(true, () => runJsKernel(IM2COL, [x], attrs));
      setWasmKernelsEnabled(false);
      const js = runJsKernel(IM2COL, [x], attrs);
      setWasmKernelsEnabled(true);
      assert.deepEqual(bits(simd), bits(js));
      tf.dispose([x, y, simd, js]);
    });

    it(`the GEMM conv and its input gradient equal tfjs's conv: ${what}`, () => {
      const x = randomTensor(g.x, 7) as tf.Tensor4D;
      const k = randomTensor(g.k, 8) as tf.Tensor4D;
      const bias = randomTensor([g.k[3]], 9);
      assert.ok(gemmConvSuits(g.x, g.k, g.s, g.d, g.pad), 'chosen for this conv');
      const want = tf.add(tf.conv2d(x, k, g.s, g.pad, 'NHWC', g.d), bias);
      const got = withThreads(true, () => gemmConv2d(x, k, g.s, g.pad, g.d, bias));
      const alone = withThreads(false, () => gemmConv2d(x, k, g.s, g.pad, g.d, bias));
      assert.deepEqual(bits(got), bits(alone), 'split = unsplit');
      const scale = tf.max(tf.abs(want)).dataSync()[0];
      assert.ok(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] / scale < 1e-5, 'value');
      // tfjs's own conv gradient has no dilations (the phase convs of ours are forward convs, checked above).
      if (g.d[0] > 1) return void tf.dispose([x, k, bias, want, got, alone]);
      const grad = (fast: boolean): tf.Tensor => {
        setFastGradientsEnabled(fast);
        try {
          return tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(conv2dInputGradFriendly(xi as tf.Tensor4D, k, g.s, g.pad, g.d), want)))(x);
        } finally {
          setFastGradientsEnabled(true);
        }
      };
      const [gFast, gStock] = [grad(true), grad(false)];
      const gScale = tf.max(tf.abs(gStock)).dataSync()[0];
      assert.ok(tf.max(tf.abs(tf.sub(gFast, gStock))).dataSync()[0] / gScale < 1e-5, 'input gradient');
      tf.dispose([x, k, bias, want, got, alone, gFast, gStock]);
    });
  }

  it('col2im reads rows padded to colStride, and its gradient is im2col with zero padding columns', () => {
    const windows: Windows = { n: 1, h: 9, w: 8, c: 3, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, oh: 5, ow: 4 };
    const k = 27;
    const compact = randomTensor([20, k], 31);
    const padded = tf.pad(compact, [[0, 0], [0, 1]]);
    const attrs = windows as unknown as tf.NamedAttrMap;
    const want = runJsKernel(COL2IM, [compact], attrs);
    const got = runJsKernel(COL2IM, [padded], { ...attrs, colStride: k + 1 });
    assert.deepEqual(bits(got), bits(want));
    const weights = randomTensor([1, 9, 8, 3], 32);
    const grad = tf.grad((c: tf.Tensor) => tf.sum(tf.mul(runJsKernel(COL2IM, [c], { ...attrs, colStride: k + 1 }), weights)))(padded);
    const expected = tf.pad(runJsKernel(IM2COL, [weights], attrs), [[0, 0], [0, 1]]);
    assert.deepEqual(grad.shape, [20, k + 1]);
    assert.deepEqual(bits(grad), bits(expected));
    tf.dispose([compact, padded, want, got, weights, grad, expected]);
  });

  /** stem 7×7/2 → relu → 3×3 (Winograd) ×2 with a residual → 3×3/2 and a 1×1/2 shortcut → global pool → dense. */
  function resnetLike(): Graph {
    const w = (shape: number[], seed: number) => randomTensor(shape, seed, -0.2, 0.2);
    return {
      format: 'tfjs-layers',
      input: { name: 'x', height: 64, width: 64, channels: 3, sourceLayout: 'NHWC' },
      output: 'logits',
      notes: [],
      nodes: [
        node('stem', 'conv2d', ['x'], { strides: [2, 2], padding: [3, 3, 3, 3] }, { kernel: w([7, 7, 3, 32], 1), bias: w([32], 2) }),
        node('r0', 'relu', ['stem']),
        node('c1', 'conv2d', ['r0'], { strides: [1, 1], padding: 'same' }, { kernel: w([3, 3, 32, 32], 3) }),
        node('r1', 'relu', ['c1']),
        node('c2', 'conv2d', ['r1'], { strides: [1, 1], padding: 'same' }, { kernel: w([3, 3, 32, 32], 4), bias: w([32], 5) }),
        node('sum', 'add', ['c2', 'r0']),
        node('r2', 'relu', ['sum']),
        node('down', 'conv2d', ['r2'], { strides: [2, 2], padding: 'same' }, { kernel: w([3, 3, 32, 64], 6) }),
        node('short', 'conv2d', ['r2'], { strides: [2, 2], padding: 'valid' }, { kernel: w([1, 1, 32, 64], 7) }),
        node('sum2', 'add', ['down', 'short']),
        node('gap', 'globalAvgPool', ['sum2']),
        node('logits', 'dense', ['gap'], {}, { kernel: w([64, 10], 8), bias: w([10], 9) }),
      ],
    };
  }

  it('a ResNet-like net gives bit-identical input gradients with and without the kernel thread, which takes pieces', () => {
    const model = LoadedModel.fromGraph(resnetLike());
    const x = randomTensor([2, 64, 64, 3], 11, 0, 1) as tf.Tensor4D;
    const pieces = kernelWorkerPieces();
    const split = splitRun(() => inputGradient(model, x, [3, 7]));
    assert.ok(kernelWorkerPieces() > pieces, 'the worker took pieces of the pass');
    const alone = withThreads(false, () => inputGradient(model, x, [3, 7]));
    assert.deepEqual(bits(split), bits(alone));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) withThreads(true, () => inputGradient(model, x, [3, 7])).dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor growth over repeated passes');
    tf.dispose([x, split, alone]);
    disposeGraph(model.graph);
  });

  // Last: it switches the kernel thread off for the rest of the process.
  it('a kernel thread that fails in a piece leaves a correct result and switches kernel threads off, saying why', () => {
    const a = randomTensor([512, 256], 21);
    const b = randomTensor([256, 128], 22);
    const want = withThreads(false, () => matMulBias(a, b));
    injectKernelThreadFault();
    for (let i = 0; i < 200 && !kernelThreadsNote(); i++) {
      const got = withThreads(true, () => matMulBias(a, b));
      assert.deepEqual(bits(got), bits(want), `run ${i}: the engine recomputed the job`);
      got.dispose();
    }
    assert.match(kernelThreadsNote() ?? '', /kernel thread failed/);
    assert.doesNotMatch(threadsLabel() ?? '', /kernel/, 'no longer reported');
    const pieces = kernelWorkerPieces();
    const after = withThreads(true, () => matMulBias(a, b));
    assert.deepEqual(bits(after), bits(want));
    assert.equal(kernelWorkerPieces(), pieces, 'later jobs run on the engine thread alone');
    tf.dispose([a, b, want, after]);
  });
});
