/** a · b + bias as one JS kernel on our wasm SIMD GEMM, split across the kernel threads (XNNPACK's matMul runs on one). */
import * as tf from '@tensorflow/tfjs-core';
import { defineJsKernel, runJsKernel } from './js_kernel';
import { kernelModuleOf, wasmKernelsFor } from './wasm_kernels';
import { runGemm } from './wasm_gemm';

const MATMUL_BIAS = 'SaliencyLensMatMulBias';
defineJsKernel({
  name: MATMUL_BIAS,
  inputNames: ['a', 'b', 'bias'],
  outShapes: ([sa, sb]) => [[sa[0], sb[1]]],
  writesAllOutputs: true,
  body: ([a, b, bias], [[rows, inner], [, cols]], [c]) => {
    const simd = wasmKernelsFor(a, b, c, ...(bias ? [bias] : []));
    if (simd) {
      runGemm(kernelModuleOf(simd), a.byteOffset, b.byteOffset, c.byteOffset, 1, rows, inner, cols, bias ? bias.byteOffset : 0);
      return;
    }
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) c[r * cols + q] = bias ? bias[q] : 0;
      for (let i = 0; i < inner; i++) {
        const av = a[r * inner + i];
        for (let q = 0; q < cols; q++) c[r * cols + q] += av * b[i * cols + q];
      }
    }
  },
});

/** a [rows, inner] · b [inner, cols] (+ bias [cols]) on our wasm GEMM (cols a multiple of 4), split across the kernel threads. */
export function matMulBias(a: tf.Tensor, b: tf.Tensor, bias?: tf.Tensor): tf.Tensor2D {
  return runJsKernel(MATMUL_BIAS, bias ? [a, b, bias] : [a, b]) as tf.Tensor2D;
}
