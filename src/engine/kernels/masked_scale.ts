/**
 * An activation's input gradient in one kernel: dy where lower < x < upper, alpha · dy elsewhere, NaN where x is
 * NaN — what tf.mul(dy, mask) computes from Step / Sub / Mul masks (two to four element-wise passes on one thread:
 * ~11 ms of a MobileNetV2 map), bit for bit, in one wasm SIMD pass split across the kernel threads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineJsKernel, runJsKernel } from './js_kernel';
import { runPieces, splitFor } from './kernelThreads';
import { kernelModuleOf, wasmKernelsFor } from './wasm_kernels';

const MASKED_SCALE = 'SaliencyLensMaskedScale';
/** Work per element for the kernel threads' split threshold (two loads, two compares, a multiply, a store). */
const ELEMENT_WORK = 4;

const f32 = new Float32Array(1);
const bits = new Int32Array(f32.buffer);

/** The smallest float32 above v (v rounded to float32 first, as a tensor scalar would be); infinities stay. */
export function nextUp(v: number): number {
  f32[0] = v;
  if (!Number.isFinite(f32[0])) return f32[0];
  if (f32[0] === 0) bits[0] = 1;
  else bits[0] += f32[0] > 0 ? 1 : -1;
  return f32[0];
}

/** The bits of v as a float32 (the wasm function's parameters are i32). */
function bitsOf(v: number): number {
  f32[0] = v;
  return bits[0];
}

defineJsKernel({
  name: MASKED_SCALE,
  inputNames: ['dy', 'x'],
  outShapes: ([dyShape]) => [dyShape],
  writesAllOutputs: true,
  // attrs lo, hi: the closed float32 bounds of the region; alpha: the slope outside it.
  body: ([dy, x], _shapes, [dx], a) => {
    const [lo, hi, alpha] = [a.lo, a.hi, a.alpha] as number[];
    const n = dx.length;
    const vectors = n - (n % 4);
    const simd = wasmKernelsFor(dy, x, dx);
    if (simd) {
      const kernels = kernelModuleOf(simd);
      const pieces = splitFor(kernels, n * ELEMENT_WORK)(vectors / 4)
        .map(([from, to]) => [dy.byteOffset, x.byteOffset, dx.byteOffset, bitsOf(lo), bitsOf(hi), bitsOf(alpha), from * 4, to * 4]);
      runPieces(kernels, 'maskedScale', pieces);
    }
    for (let i = simd ? vectors : 0; i < n; i++) {
      const v = x[i];
      dx[i] = dy[i] * (v !== v ? NaN : v >= lo && v <= hi ? 1 : alpha);
    }
  },
});

/**
 * dy · (lower < x < upper ? 1 : alpha), NaN where x is NaN (an infinite bound is no bound), on the cpu and wasm
 * backends; undefined elsewhere (the caller multiplies by its mask).
 */
export function maskedScale(dy: tf.Tensor, x: tf.Tensor, lower: number, upper: number, alpha: number): tf.Tensor {
  // x > lower ⇔ x ≥ the next float32 above lower, x < upper ⇔ x ≤ the one below upper; infinite bounds stay
  // infinite and so admit ±Infinity.
  return runJsKernel(MASKED_SCALE, [dy, x], { lo: nextUp(lower), hi: -nextUp(-upper), alpha: Math.fround(alpha) });
}
