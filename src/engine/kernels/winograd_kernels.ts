/**
 * The tfjs kernels behind winograd.ts: input transform, batched GEMM and output transform. Each runs its
 * wasm SIMD function on the wasm backend and a plain-JS loop elsewhere (tests compare the two).
 */
import { defineJsKernel } from './js_kernel';
import { WINOGRAD_F2, WINOGRAD_F4, type WinogradVariant } from './wasm_winograd';
import { kernelModuleOf, wasmKernelsFor } from './wasm_kernels';
import { runGemm } from './wasm_gemm';
import { runPieces, splitFor } from './kernelThreads';

/** Kernel names. */
export const WINOGRAD_INPUT = 'SaliencyLensWinogradInput';
export const WINOGRAD_OUTPUT = 'SaliencyLensWinogradOutput';
export const BATCHED_GEMM = 'SaliencyLensBatchedGemm';
export const WINOGRAD_KERNEL = 'SaliencyLensWinogradKernel';

/**
 * Multiply-add equivalents per value a transform reads or writes, for the kernel threads' split threshold: on one
 * thread a layer-1 ResNet input transform (451K values) took 0.33 ms, as long as a GEMM of ~8M multiply-adds.
 */
const TRANSFORM_WORK = 8;

/** The variant with output tiles of m×m (the kernels' `m` attribute). */
export function winogradVariant(m: number): WinogradVariant {
  return m === 2 ? WINOGRAD_F2 : WINOGRAD_F4;
}

/** Σ coefs[k]·x[k]. */
const dot = (coefs: number[], x: number[]): number => coefs.reduce((s, c, k) => s + c * x[k], 0);

/** Bᵀ d B (or Aᵀ m A) of one channel's tile, given as a row-major array of `cols` columns. */
function sandwich(left: number[][], right: number[][], tile: number[], cols: number): number[] {
  const rows = tile.length / cols;
  const tmp = left.map((l) => Array.from({ length: cols }, (_, j) => dot(l, Array.from({ length: rows }, (_, k) => tile[k * cols + j]))));
  return tmp.flatMap((row) => right.map((r) => dot(r, row)));
}

defineJsKernel({
  name: WINOGRAD_INPUT,
  inputNames: ['x'],
  outShapes: ([s], a) => {
    const { alpha } = winogradVariant(a.m as number);
    return [[alpha * alpha, s[0] * (a.tilesH as number) * (a.tilesW as number), s[3]]];
  },
  writesAllOutputs: true,
  body: ([x], [[n, h, w, c]], [v], a) => {
    const [m, tilesH, tilesW, pt, pl] = [a.m, a.tilesH, a.tilesW, a.pt, a.pl] as number[];
    const simd = wasmKernelsFor(x, v);
    if (simd) {
      const kernels = kernelModuleOf(simd);
      const pieces = splitFor(kernels, n * tilesH * tilesW * c * (m + 2) ** 2 * TRANSFORM_WORK)(tilesH)
        .map(([lo, hi]) => [x.byteOffset, n, h, w, c, pt, pl, tilesH, tilesW, v.byteOffset, lo, hi]);
      runPieces(kernels, `winogradInput${m}`, pieces);
      return;
    }
    const { alpha: A, bt } = winogradVariant(m);
    const plane = n * tilesH * tilesW * c;
    const at = (b: number, r: number, q: number, ch: number): number => (r >= 0 && r < h && q >= 0 && q < w ? x[((b * h + r) * w + q) * c + ch] : 0);
    for (let b = 0, t = 0; b < n; b++) {
      for (let ty = 0; ty < tilesH; ty++) {
        for (let tx = 0; tx < tilesW; tx++, t++) {
          for (let ch = 0; ch < c; ch++) {
            const tile = Array.from({ length: A * A }, (_, e) => at(b, ty * m - pt + Math.floor(e / A), tx * m - pl + (e % A), ch));
            sandwich(bt, bt, tile, A).forEach((val, k) => (v[k * plane + t * c + ch] = val));
          }
        }
      }
    }
  },
});

defineJsKernel({
  name: WINOGRAD_OUTPUT,
  inputNames: ['m', 'bias'],
  outShapes: (s, a) => [[a.n as number, a.ho as number, a.wo as number, s[0][2]]],
  writesAllOutputs: true,
  body: ([mIn, bias], shapes, [y], a) => {
    const [m, n, ho, wo, tilesH, tilesW] = [a.m, a.n, a.ho, a.wo, a.tilesH, a.tilesW] as number[];
    const [positions, tiles, co] = shapes[0];
    const simd = wasmKernelsFor(y, bias, mIn);
    if (simd) {
      const kernels = kernelModuleOf(simd);
      const pieces = splitFor(kernels, positions * tiles * co * TRANSFORM_WORK)(tilesH)
        .map(([lo, hi]) => [mIn.byteOffset, y.byteOffset, bias.byteOffset, n, ho, wo, co, tilesH, tilesW, lo, hi]);
      runPieces(kernels, `winogradOutput${m}`, pieces);
      return;
    }
    const { alpha: A, at } = winogradVariant(m);
    const plane = tiles * co;
    for (let b = 0, t = 0; b < n; b++) {
      for (let ty = 0; ty < tilesH; ty++) {
        for (let tx = 0; tx < tilesW; tx++, t++) {
          for (let ch = 0; ch < co; ch++) {
            const tile = Array.from({ length: positions }, (_, k) => mIn[k * plane + t * co + ch]);
            const out = sandwich(at, at, tile, A);
            for (let r = 0; r < m && ty * m + r < ho; r++) {
              for (let s = 0; s < m && tx * m + s < wo; s++) y[((b * ho + ty * m + r) * wo + tx * m + s) * co + ch] = out[r * m + s] + bias[ch];
            }
          }
        }
      }
    }
  },
});

defineJsKernel({
  name: BATCHED_GEMM,
  inputNames: ['a', 'b'],
  outShapes: ([sa, sb]) => [[sa[0], sa[1], sb[2]]],
  writesAllOutputs: true,
  body: ([a, b], [[batch, rows, inner], [, , cols]], [c]) => {
    const simd = wasmKernelsFor(a, b, c);
    if (simd) {
      runGemm(kernelModuleOf(simd), a.byteOffset, b.byteOffset, c.byteOffset, batch, rows, inner, cols, 0);
      return;
    }
    for (let k = 0; k < batch; k++) {
      for (let r = 0; r < rows; r++) {
        const out = (k * rows + r) * cols;
        c.fill(0, out, out + cols);
        for (let i = 0; i < inner; i++) {
          const av = a[(k * rows + r) * inner + i];
          const bo = (k * inner + i) * cols;
          for (let q = 0; q < cols; q++) c[out + q] += av * b[bo + q];
        }
      }
    }
  },
});

/** Channel rows × columns per block of the kernel transform: its float64 partial sums stay in L1. */
const KERNEL_BLOCK_IN = 16;
const KERNEL_BLOCK_OUT = 32;

/**
 * U = G g Gᵀ for every channel pair of a kernel [3, 3, ci, co]: α² planes [ci, co] in float64, or with
 * `flipped` those of the input-gradient kernel (taps reversed, [co, ci]) without materialising it. It runs once
 * per weight and direction (the result is cached), straight into the backend's memory, block by block so that
 * the flipped planes' transposed writes stay in cache (ResNet-18's, element by element into JS arrays then copied
 * in: 0.73 s warm plus page faults twice over; now 0.22–0.26 s).
 */
defineJsKernel({
  name: WINOGRAD_KERNEL,
  inputNames: ['kernel'],
  outShapes: ([[, , ci, co]], a) => {
    const { alpha } = winogradVariant(a.m as number);
    return [a.flipped ? [alpha * alpha, co, ci] : [alpha * alpha, ci, co]];
  },
  writesAllOutputs: true,
  body: ([g], [[, , ci, co]], [out], a) => {
    const { alpha: A, g: G } = winogradVariant(a.m as number);
    const flipped = a.flipped as boolean;
    const plane = ci * co;
    const block = KERNEL_BLOCK_IN * KERNEL_BLOCK_OUT;
    const gg = new Float64Array(A * 3 * block); // G g: α × 3 values per channel pair of the block
    for (let c0 = 0; c0 < ci; c0 += KERNEL_BLOCK_IN) {
      const nc = Math.min(KERNEL_BLOCK_IN, ci - c0);
      for (let o0 = 0; o0 < co; o0 += KERNEL_BLOCK_OUT) {
        const no = Math.min(KERNEL_BLOCK_OUT, co - o0);
        for (let i = 0; i < A; i++) {
          const [g0, g1, g2] = G[i];
          for (let b = 0; b < 3; b++) {
            const col = flipped ? 2 - b : b;
            const t0 = ((flipped ? 2 : 0) * 3 + col) * plane;
            const t1 = 3 * plane + col * plane;
            const t2 = ((flipped ? 0 : 2) * 3 + col) * plane;
            for (let cc = 0; cc < nc; cc++) {
              const e = (c0 + cc) * co + o0;
              const d = (i * 3 + b) * block + cc * KERNEL_BLOCK_OUT;
              for (let oo = 0; oo < no; oo++) gg[d + oo] = g0 * g[t0 + e + oo] + g1 * g[t1 + e + oo] + g2 * g[t2 + e + oo];
            }
          }
        }
        for (let i = 0; i < A; i++) {
          const r0 = i * 3 * block;
          const r1 = r0 + block;
          const r2 = r1 + block;
          for (let j = 0; j < A; j++) {
            const [h0, h1, h2] = G[j];
            const base = (i * A + j) * plane;
            if (!flipped) {
              for (let cc = 0; cc < nc; cc++) {
                const d = base + (c0 + cc) * co + o0;
                const s = cc * KERNEL_BLOCK_OUT;
                for (let oo = 0; oo < no; oo++) out[d + oo] = gg[r0 + s + oo] * h0 + gg[r1 + s + oo] * h1 + gg[r2 + s + oo] * h2;
              }
              continue;
            }
            for (let oo = 0; oo < no; oo++) {
              const d = base + (o0 + oo) * ci + c0;
              for (let cc = 0; cc < nc; cc++) {
                const s = cc * KERNEL_BLOCK_OUT + oo;
                out[d + cc] = gg[r0 + s] * h0 + gg[r1 + s] * h1 + gg[r2 + s] * h2;
              }
            }
          }
        }
      }
    }
  },
});
