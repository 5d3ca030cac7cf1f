/**
 * Convolutions that are not Winograd's (strided, 7×7, 1×1) as im2col plus one GEMM in our wasm SIMD kernels
 * instead of XNNPACK's direct convolution: the GEMM runs at 40–49 GFLOP/s on one thread, and both it and
 * im2col split by rows across the kernel threads, which XNNPACK's own pool (one thread here) cannot use.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ConvPad, convGeometry } from './conv_plan';
import { IM2COL, type Windows } from './col2im';
import { runJsKernel } from './js_kernel';
import { matMulBias } from './matmul_bias';
import { wasmKernelsReady } from './wasm_kernels';
import { decisionThreads } from './winograd';

/** Below this many multiply-adds XNNPACK's conv is as fast and skips the im2col copy. */
const MIN_MACS = 2e6;

/**
 * Whether a (non-depthwise) conv of x [n, h, w, ci] with kernel [kh, kw, ci, co] runs as im2col + GEMM: the
 * wasm kernels are there, XNNPACK runs on one thread (a wider pool splits its own conv), output channels fill
 * SIMD vectors, no width dilation, and enough work. The choice does not depend on the kernel threads, so a
 * gradient helper (which has none, and decides with the engine's wasm thread count) computes the same bits.
 */
export function gemmConvSuits(xShape: number[], kernelShape: number[], strides: [number, number], dilations: [number, number], pad: ConvPad): boolean {
  const [kh, kw, ci, co] = kernelShape;
  if (co % 4 !== 0 || dilations[1] !== 1) return false;
  const geo = convGeometry(xShape[1], xShape[2], kh, kw, strides, dilations, pad);
  if (xShape[0] * geo.outH * geo.outW * kh * kw * ci * co < MIN_MACS) return false;
  return wasmKernelsReady() && decisionThreads() === 1;
}

/** conv2d(x, kernel, strides, pad, dilations) + bias as im2col and one GEMM (see gemmConvSuits). */
export function gemmConv2d(
  x: tf.Tensor4D, kernel: tf.Tensor4D, strides: [number, number], pad: ConvPad, dilations: [number, number], bias?: tf.Tensor,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [kh, kw, , co] = kernel.shape;
  const geo = convGeometry(h, w, kh, kw, strides, dilations, pad);
  return tf.tidy(() => {
    const pointwise = kh === 1 && kw === 1 && strides[0] === 1 && strides[1] === 1 && geo.pad.every((p) => p === 0);
    const windows: Windows = {
      n, h, w, c, kh, kw, sh: strides[0], sw: strides[1], dh: dilations[0], dw: dilations[1], pt: geo.pad[0], pl: geo.pad[2], oh: geo.outH, ow: geo.outW,
    };
    const cols = pointwise ? tf.reshape(x, [n * h * w, c]) : runJsKernel(IM2COL, [x], windows as unknown as tf.NamedAttrMap);
    const y = matMulBias(cols, tf.reshape(kernel, [kh * kw * c, co]), bias ? tf.reshape(bias, [co]) : undefined);
    return tf.reshape(y, [n, geo.outH, geo.outW, co]) as tf.Tensor4D;
  });
}
