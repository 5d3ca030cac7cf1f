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

/** The bits of the float32 next to v (rounded to float32 first) towards `up`; infinities stay. */
function neighbourBits(v: number, up: boolean): number {
  f32[0] = v;
  if (Number.isFinite(f32[0])) {
    if (f32[0] === 0) {
      f32[0] = up ? 1e-45 : -1e-45;
    } else {
      bits[0] += (f32[0] > 0) === up ? 1 : -1;
    }
  }
  return bits[0];
}

const fromBits = (b: number): number => {
  bits[0] = b;
  return f32[0];
};

defineJsKernel({
  name: MASKED_SCALE,
  inputNames: ['dy', 'x'],
  outShapes: ([dyShape]) => [dyShape],
  writesAllOutputs: true,
  // attrs lo, hi, alpha: the bits of the closed float32 bounds and of the slope outside them.
  body: ([dy, x], _shapes, [dx], a) => {
    const [lo, hi, alpha] = [a.lo, a.hi, a.alpha] as number[];
    const n = dx.length;
    const vectors = n - (n % 4);
    const simd = wasmKernelsFor(dy, x, dx);
    if (simd) {
      const kernels = kernelModuleOf(simd);
      const pieces = splitFor(kernels, n * ELEMENT_WORK)(vectors / 4)
        .map(([from, to]) => [dy.byteOffset, x.byteOffset, dx.byteOffset, lo, hi, alpha, from * 4, to * 4]);
      runPieces(kernels, 'maskedScale', pieces);
    }
    const [low, high, slope] = [fromBits(lo), fromBits(hi), fromBits(alpha)];
    for (let i = simd ? vectors : 0; i < n; i++) {
      const v = x[i];
      dx[i] = dy[i] * (v !== v ? NaN : v >= low && v <= high ? 1 : slope);
    }
  },
});

/**
 * dy · (lower < x < upper ? 1 : alpha), NaN where x is NaN (an infinite bound is no bound), on the cpu and wasm
 * backends; undefined elsewhere (the caller multiplies by its mask).
 */
export function maskedScale(dy: tf.Tensor, x: tf.Tensor, lower: number, upper: number, alpha: number): tf.Tensor {
  // x > lower ⇔ x ≥ the next float32 above lower; an infinite bound stays infinite and so admits ±Infinity.
  const lo = lower === -Infinity ? neighbourBits(-Infinity, true) : neighbourBits(lower, true);
  const hi = upper === Infinity ? neighbourBits(Infinity, false) : neighbourBits(upper, false);
  f32[0] = alpha;
  return runJsKernel(MASKED_SCALE, [dy, x], { lo, hi, alpha: bits[0] });
}
