/**
 * The input gradient of a conv with few input channels (the image layer) as one GEMM plus a JS col2im:
 * cols = dy · Wᵀ, then each column row is added back into the pixels its window covered. The phase
 * convs would produce only Ci (e.g. 3) output channels, which XNNPACK's conv kernels handle at a fraction
 * of their speed, while this GEMM has a wide K×N shape. col2im and im2col are each other's gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineJsKernel, jsKernelsAvailable, runJsKernel } from './js_kernel';
import { convGeometry, type ConvPad } from './conv_plan';
import { subKernel } from './kernel_cache';
import { kernelModuleOf, wasmKernelsFor, wasmKernelsReady } from './wasm_kernels';
import { matMulBias } from './matmul_bias';
import { decisionThreads } from './winograd';
import { runPieces, splitFor } from './kernelThreads';

/** x [n, h, w, c] += each cols row added back over its window (attrs: the Windows fields). */
export const COL2IM = 'SaliencyLensCol2Im';
/** cols [n·oh·ow, kh·kw·c] from x [n, h, w, c] (attrs: the Windows fields). */
export const IM2COL = 'SaliencyLensIm2Col';

/**
 * Window geometry shared by col2im and im2col: x is [n,h,w,c], cols are [n*oh*ow, kh*kw*c], or rows of
 * colStride floats whose first kh*kw*c are used (col2im only).
 */
export interface Windows {
  n: number; h: number; w: number; c: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  pt: number; pl: number; oh: number; ow: number;
  colStride?: number;
}

/**
 * Walks every in-bounds tap of every window (padding taps are skipped): col2im adds cols into px,
 * im2col copies px into cols. One loop with hoisted geometry; a per-tap callback would double its cost.
 * Undilated rows are one contiguous run of taps × channels (a loop of c = 3 per tap costs twice as much).
 */
function walk(g: Windows, cols: Float32Array, px: Float32Array, toCols: boolean): void {
  const { n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow } = g;
  // Only col2im reads padded rows; im2col always writes compact ones.
  const rowLen = toCols ? kh * kw * c : g.colStride ?? kh * kw * c;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let i = 0; i < kh; i++) {
        const ih = y * sh - pt + i * dh;
        if (ih < 0 || ih >= h) continue;
        const pxRow = (b * h + ih) * w;
        let colBase = (b * oh + y) * ow * rowLen + i * kw * c;
        for (let x = 0; x < ow; x++, colBase += rowLen) {
          const iw0 = x * sw - pl;
          if (dw === 1) {
            const jLo = Math.max(0, -iw0);
            const len = (Math.min(kw, w - iw0) - jLo) * c;
            const p = (pxRow + iw0 + jLo) * c;
            const col = colBase + jLo * c;
            if (toCols) for (let k = 0; k < len; k++) cols[col + k] = px[p + k];
            else for (let k = 0; k < len; k++) px[p + k] += cols[col + k];
            continue;
          }
          let iw = iw0;
          let col = colBase;
          for (let j = 0; j < kw; j++, iw += dw, col += c) {
            if (iw < 0 || iw >= w) continue;
            const p = (pxRow + iw) * c;
            if (toCols) for (let k = 0; k < c; k++) cols[col + k] = px[p + k];
            else for (let k = 0; k < c; k++) px[p + k] += cols[col + k];
          }
        }
      }
    }
  }
}

const win = (a: tf.NamedAttrMap): Windows => a as unknown as Windows;

defineJsKernel({
  name: COL2IM,
  inputNames: ['cols'],
  outShapes: (_s, a) => [[win(a).n, win(a).h, win(a).w, win(a).c]],
  body: ([cols], _s, [dx], a) => {
    const g = win(a);
    const simd = g.dw === 1 ? wasmKernelsFor(cols, dx) : null;
    if (simd) simd.col2im(cols.byteOffset, dx.byteOffset, g.n, g.h, g.w, g.c, g.kh, g.kw, g.sh, g.sw, g.dh, g.pt, g.pl, g.oh, g.ow, g.colStride ?? g.kh * g.kw * g.c);
    else walk(g, cols, dx, false);
  },
});

defineJsKernel({
  name: IM2COL,
  inputNames: ['x'],
  outShapes: (_s, a) => [[win(a).n * win(a).oh * win(a).ow, win(a).kh * win(a).kw * win(a).c]],
  writesAllOutputs: true,
  body: ([x], _s, [cols], a) => {
    const g = win(a);
    const simd = g.dw === 1 ? wasmKernelsFor(x, cols) : null;
    if (!simd) {
      cols.fill(0);
      walk(g, cols, x, true);
      return;
    }
    const kernels = kernelModuleOf(simd);
    const pieces = splitFor(kernels, cols.length)(g.oh).map(([lo, hi]) => [
      x.byteOffset, cols.byteOffset, g.n, g.h, g.w, g.c, g.kh, g.kw, g.sh, g.sw, g.dh, g.pt, g.pl, g.oh, g.ow, lo, hi,
    ]);
    runPieces(kernels, 'im2col', pieces);
  },
});

tf.registerGradient({
  kernelName: COL2IM,
  gradFunc: (dy, _s, a) => ({
    cols: () => {
      const g = win(a);
      const cols = runJsKernel(IM2COL, [dy as tf.Tensor], a);
      // Padded rows: their extra columns never reached dx, so their gradient is zero.
      const extra = (g.colStride ?? 0) - g.kh * g.kw * g.c;
      return extra > 0 ? tf.pad(cols, [[0, 0], [0, extra]]) : cols;
    },
  }),
});
tf.registerGradient({ kernelName: IM2COL, gradFunc: (dy, _s, a) => ({ x: () => runJsKernel(COL2IM, [dy as tf.Tensor], a) }) });

/** Whether the GEMM formulation suits this conv: few input channels, enough output channels to amortise col2im. */
export function gemmBackpropSuits(inChannels: number, outChannels: number, strides: [number, number]): boolean {
  // col2im costs 1/outChannels of the GEMM's multiply-adds, but in JS; a stride-1 layer has a single
  // phase conv, which is fine unless there are many output channels to contract.
  return inChannels <= 4 && (outChannels >= 32 || strides[0] * strides[1] > 1) && jsKernelsAvailable();
}

/** dx of a (non-depthwise) conv from dy by GEMM and col2im; exact for any padding, stride and dilation. */
export function gemmBackpropInput(
  dy: tf.Tensor4D, kernel: tf.Tensor4D, xShape: number[], strides: [number, number], pad: ConvPad, dilations: [number, number],
): tf.Tensor4D {
  const [n, h, w, c] = xShape;
  const [kh, kw, , co] = kernel.shape;
  const geo = convGeometry(h, w, kh, kw, strides, dilations, pad);
  const windows: Windows = {
    n, h, w, c, kh, kw, sh: strides[0], sw: strides[1], dh: dilations[0], dw: dilations[1],
    pt: geo.pad[0], pl: geo.pad[2], oh: dy.shape[1], ow: dy.shape[2],
  };
  if (wasmKernelsReady() && decisionThreads() === 1 && co % 4 === 0) return tf.tidy(() => wasmGemmBackprop(dy, kernel, windows));
  // [kh*kw*c, co] transposed once per weight: wasm's transposed-operand matmul is ~10× slower.
  const wt = subKernel(kernel, 'gemm', () => tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(kernel, [kh * kw * c, co])), [1, 1, co, kh * kw * c]) as tf.Tensor4D));
  return tf.tidy(() => {
    const cols = tf.matMul(tf.reshape(dy, [n * windows.oh * windows.ow, co]) as tf.Tensor2D, tf.reshape(wt, [co, kh * kw * c]) as tf.Tensor2D);
    return runJsKernel(COL2IM, [cols], windows as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  });
}

/**
 * The same on our wasm GEMM, which splits across the kernel threads (XNNPACK's matMul runs on one). Its columns
 * come in fours, so the transposed kernel gets zero columns up to a multiple of 4 and col2im skips them.
 */
function wasmGemmBackprop(dy: tf.Tensor4D, kernel: tf.Tensor4D, windows: Windows): tf.Tensor4D {
  const [kh, kw, c, co] = kernel.shape;
  const k = kh * kw * c;
  const k4 = Math.ceil(k / 4) * 4;
  const wt = subKernel(kernel, 'gemm4', () => tf.tidy(() => {
    const t = tf.transpose(tf.reshape(kernel, [k, co]));
    return tf.reshape(k4 === k ? t : tf.pad(t, [[0, 0], [0, k4 - k]]), [1, 1, co, k4]) as tf.Tensor4D;
  }));
  const cols = matMulBias(tf.reshape(dy, [windows.n * windows.oh * windows.ow, co]), tf.reshape(wt, [co, k4]));
  return runJsKernel(COL2IM, [cols], { ...windows, colStride: k4 } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
