/** a · b + bias as one JS kernel on our wasm SIMD GEMM, split across the kernel threads (XNNPACK's matMul runs on one). */
import * as tf from '@tensorflow/tfjs-core';
import { defineJsKernel, runJsKernel } from './js_kernel';
import { subKernel } from './kernel_cache';
import { kernelModuleOf, wasmKernelsFor } from './wasm_kernels';
import { runGemm } from './wasm_gemm';

/**
 * Floats of padding after each row of a weight b whose rows are a multiple of 1 KiB apart, when it has this many
 * rows or more. The GEMM reads b in 8-column panels, one 32-byte piece per row; at such strides every piece of a
 * panel falls in the same few cache sets, so a tall panel is evicted before the next 4 rows of a reuse it.
 * One cache line of padding spreads them (one thread: [49, 2304]·[2304, 512] 4.2 → 2.4 ms, [196, 1152]·[1152, 256]
 * 2.9 → 2.2 ms; no change below 1024 rows or on Winograd's products).
 */
const ROW_PAD = 16;
const MIN_PADDED_ROWS = 1024;

const MATMUL_BIAS = 'SaliencyLensMatMulBias';
defineJsKernel({
  name: MATMUL_BIAS,
  inputNames: ['a', 'b', 'bias'],
  // attrs.cols: the columns used of b's rows (fewer than b has when b is padded).
  outShapes: ([sa, sb], attrs) => [[sa[0], (attrs.cols as number | undefined) ?? sb[1]]],
  writesAllOutputs: true,
  body: ([a, b, bias], [[rows, inner], [, ldb]], [c], attrs) => {
    const cols = (attrs.cols as number | undefined) ?? ldb;
    const simd = wasmKernelsFor(a, b, c, ...(bias ? [bias] : []));
    if (simd) {
      runGemm(kernelModuleOf(simd), a.byteOffset, b.byteOffset, c.byteOffset, 1, rows, inner, cols, bias ? bias.byteOffset : 0, ldb);
      return;
    }
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) c[r * cols + q] = bias ? bias[q] : 0;
      for (let i = 0; i < inner; i++) {
        const av = a[r * inner + i];
        for (let q = 0; q < cols; q++) c[r * cols + q] += av * b[i * ldb + q];
      }
    }
  },
});

/** b, or its copy with padded rows (cached with the weight) where the GEMM's panels of b would thrash the cache. */
function paddedRows(b: tf.Tensor): tf.Tensor {
  const [inner, cols] = b.shape;
  if (inner < MIN_PADDED_ROWS || cols % 256 !== 0) return b;
  return subKernel(b, `rows padded by ${ROW_PAD}`, () => tf.pad(b, [[0, 0], [0, ROW_PAD]]));
}

/** a [rows, inner] · b [inner, cols] (+ bias [cols]) on our wasm GEMM (cols a multiple of 4), split across the kernel threads. */
export function matMulBias(a: tf.Tensor, b: tf.Tensor, bias?: tf.Tensor): tf.Tensor2D {
  const padded = paddedRows(b);
  return runJsKernel(MATMUL_BIAS, bias ? [a, padded, bias] : [a, padded], { cols: b.shape[1] as number }) as tf.Tensor2D;
}
