/**
 * 3×3 stride-1 convolutions as Winograd F(4×4, 3×3) on the wasm backend: the input transform, the 36
 * channel contractions (one batched GEMM) and the output transform run in wasm SIMD (wasm_winograd.ts,
 * wasm_gemm.ts). 4× fewer multiplies than the direct convolution that ~80 % of a ResNet's FLOPs go
 * through, forward and backward alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ConvPad, convGeometry } from './conv_plan';
import { defineJsKernel, runJsKernel } from './js_kernel';
import { subKernel } from './kernel_cache';
import { WINOGRAD_AT, WINOGRAD_BT, WINOGRAD_G } from './wasm_winograd';
import { wasmKernelsFor, wasmKernelsReady } from './wasm_kernels';

const INPUT_KERNEL = 'SaliencyLensWinogradInput';
const OUTPUT_KERNEL = 'SaliencyLensWinogradOutput';
const GEMM_KERNEL = 'SaliencyLensBatchedGemm';
const POSITIONS = 36;
const MAX_CHANNEL_PAIRS = 256 * 256;

let enabled = true;

/** Tests and the benchmark switch Winograd off to compare with the direct convolution. */
export function setWinogradEnabled(on: boolean): void {
  enabled = on;
}

/**
 * Whether a conv of x [n, h, w, ci] with kernel [3, 3, ci, co] runs as Winograd here: stride and
 * dilation 1, channels in whole SIMD vectors, and enough of them for the GEMMs to outweigh the transforms.
 */
export function winogradSuits(xShape: number[], kernelShape: number[], strides: [number, number], dilations: [number, number]): boolean {
  const [kh, kw, ci, co] = kernelShape;
  if (!enabled || kh !== 3 || kw !== 3 || strides[0] !== 1 || strides[1] !== 1 || dilations[0] !== 1 || dilations[1] !== 1) return false;
  if (ci % 4 !== 0 || co % 4 !== 0 || ci < 16 || co < 16 || xShape[1] < 4 || xShape[2] < 4) return false;
  // Its transformed kernels take 4× the weight's memory, twice (forward and backward): beyond 256×256
  // channels (ResNet's 7×7×512 stage) that memory outweighs the time saved on so few tiles.
  if (ci * co > MAX_CHANNEL_PAIRS) return false;
  return wasmKernelsReady();
}

/**
 * U = G g Gᵀ for every channel pair: 36 matrices [ci, co], in float64. `flipped`: the kernel of the
 * input gradient instead (taps reversed, in and out swapped: [co, ci]), without materialising it.
 */
function transformKernel(kernel: tf.Tensor4D, flipped: boolean): Float32Array {
  const [, , ci, co] = kernel.shape;
  const g = kernel.dataSync();
  const plane = ci * co;
  const out = new Float32Array(POSITIONS * plane);
  const gg = new Float64Array(18); // G g for one channel pair: 6 rows × 3 columns
  const tap = (a: number, b: number): number => (flipped ? (2 - a) * 3 + 2 - b : a * 3 + b) * plane;
  for (let e = 0; e < plane; e++) {
    const dst = flipped ? (e % co) * ci + Math.floor(e / co) : e;
    for (let i = 0; i < 6; i++) {
      for (let b = 0; b < 3; b++) {
        let s = 0;
        for (let a = 0; a < 3; a++) s += WINOGRAD_G[i][a] * g[tap(a, b) + e];
        gg[i * 3 + b] = s;
      }
    }
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 6; j++) {
        const r = WINOGRAD_G[j];
        out[(i * 6 + j) * plane + dst] = gg[i * 3] * r[0] + gg[i * 3 + 1] * r[1] + gg[i * 3 + 2] * r[2];
      }
    }
  }
  return out;
}

/** The 36 transformed kernels [36, ci, co] ([36, co, ci] flipped), cached with the weight they came from. */
function transformedKernels(kernel: tf.Tensor4D, flipped: boolean): tf.Tensor3D {
  const [, , ci, co] = kernel.shape;
  return subKernel(kernel, `winograd43 ${flipped}`, () => tf.tensor3d(transformKernel(kernel, flipped), flipped ? [POSITIONS, co, ci] : [POSITIONS, ci, co]));
}

/** y = Σ coefs[k]·x[k] for one channel, the plain-JS path of the transforms. */
const dot = (coefs: number[], x: number[]): number => coefs.reduce((s, c, k) => s + c * x[k], 0);

defineJsKernel({
  name: INPUT_KERNEL,
  inputNames: ['x'],
  outShapes: ([s], a) => [[POSITIONS, s[0] * (a.tilesH as number) * (a.tilesW as number), s[3]]],
  writesAllOutputs: true,
  body: ([x], [[n, h, w, c]], [v], a) => {
    const [tilesH, tilesW, pt, pl] = [a.tilesH, a.tilesW, a.pt, a.pl] as number[];
    const simd = wasmKernelsFor(x, v);
    if (simd) {
      simd.winogradInput(x.byteOffset, n, h, w, c, pt, pl, tilesH, tilesW, v.byteOffset);
      return;
    }
    const plane = n * tilesH * tilesW * c;
    const at = (b: number, r: number, q: number, ch: number): number => (r >= 0 && r < h && q >= 0 && q < w ? x[((b * h + r) * w + q) * c + ch] : 0);
    const d = new Array<number>(36);
    const col = new Array<number>(6);
    for (let b = 0, t = 0; b < n; b++) {
      for (let ty = 0; ty < tilesH; ty++) {
        for (let tx = 0; tx < tilesW; tx++, t++) {
          for (let ch = 0; ch < c; ch++) {
            const tmp = new Array<number>(36);
            for (let j = 0; j < 6; j++) {
              for (let k = 0; k < 6; k++) col[k] = at(b, ty * 4 - pt + k, tx * 4 - pl + j, ch);
              for (let i = 0; i < 6; i++) tmp[i * 6 + j] = dot(WINOGRAD_BT[i], col);
            }
            for (let i = 0; i < 6; i++) {
              for (let j = 0; j < 6; j++) d[i * 6 + j] = dot(WINOGRAD_BT[j], tmp.slice(i * 6, i * 6 + 6));
            }
            for (let k = 0; k < 36; k++) v[k * plane + t * c + ch] = d[k];
          }
        }
      }
    }
  },
});

defineJsKernel({
  name: OUTPUT_KERNEL,
  inputNames: ['m', 'bias'],
  outShapes: (s, a) => [[a.n as number, a.ho as number, a.wo as number, s[0][2]]],
  writesAllOutputs: true,
  body: ([m, bias], shapes, [y], a) => {
    const [n, ho, wo, tilesH, tilesW] = [a.n, a.ho, a.wo, a.tilesH, a.tilesW] as number[];
    const [, tiles, co] = shapes[0];
    const simd = wasmKernelsFor(y, bias, m);
    if (simd) {
      simd.winogradOutput(m.byteOffset, y.byteOffset, bias.byteOffset, n, ho, wo, co, tilesH, tilesW);
      return;
    }
    const plane = tiles * co;
    const col = new Array<number>(6);
    for (let b = 0, t = 0; b < n; b++) {
      for (let ty = 0; ty < tilesH; ty++) {
        for (let tx = 0; tx < tilesW; tx++, t++) {
          for (let ch = 0; ch < co; ch++) {
            const tmp = new Array<number>(24);
            for (let j = 0; j < 6; j++) {
              for (let i = 0; i < 6; i++) col[i] = m[(i * 6 + j) * plane + t * co + ch];
              for (let r = 0; r < 4; r++) tmp[r * 6 + j] = dot(WINOGRAD_AT[r], col);
            }
            for (let r = 0; r < 4 && ty * 4 + r < ho; r++) {
              for (let s = 0; s < 4 && tx * 4 + s < wo; s++) {
                y[((b * ho + ty * 4 + r) * wo + tx * 4 + s) * co + ch] = dot(WINOGRAD_AT[s], tmp.slice(r * 6, r * 6 + 6)) + bias[ch];
              }
            }
          }
        }
      }
    }
  },
});

defineJsKernel({
  name: GEMM_KERNEL,
  inputNames: ['a', 'b'],
  outShapes: ([sa, sb]) => [[sa[0], sa[1], sb[2]]],
  writesAllOutputs: true,
  body: ([a, b], [[batch, rows, inner], [, , cols]], [c]) => {
    const simd = wasmKernelsFor(a, b, c);
    if (simd) {
      simd.gemmBatched(a.byteOffset, b.byteOffset, c.byteOffset, batch, rows, inner, cols);
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

/**
 * conv2d(x, kernel [3, 3, ci, co], stride 1, pad) + bias, by Winograd F(4×4, 3×3); see winogradSuits.
 * `flipped`: convolve with the input-gradient kernel of `kernel` (reversed taps, [3, 3, co, ci]) instead.
 */
export function winogradConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, pad: ConvPad, bias?: tf.Tensor, flipped = false): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const co = kernel.shape[flipped ? 2 : 3];
  const geo = convGeometry(h, w, 3, 3, [1, 1], [1, 1], pad);
  const { outH: ho, outW: wo } = geo;
  const tilesH = Math.ceil(ho / 4);
  const tilesW = Math.ceil(wo / 4);
  const u = transformedKernels(kernel, flipped);
  return tf.tidy(() => {
    const v = runJsKernel(INPUT_KERNEL, [x], { tilesH, tilesW, pt: geo.pad[0], pl: geo.pad[2] });
    const m = runJsKernel(GEMM_KERNEL, [v, u]);
    const b = bias ? tf.reshape(bias, [co]) : tf.zeros([co]);
    return runJsKernel(OUTPUT_KERNEL, [m, b], { n, ho, wo, tilesH, tilesW }) as tf.Tensor4D;
  });
}
