/**
 * 3×3 stride-1 convolutions as Winograd F(m×m, 3×3) on the wasm backend: the input transform, the α²
 * channel contractions (one batched GEMM) and the output transform run in wasm SIMD (wasm_winograd.ts,
 * wasm_gemm.ts). F(4×4, 3×3) does 4× fewer multiplies than the direct convolution that ~80 % of a
 * ResNet's FLOPs go through, forward and backward alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { type ConvPad, convGeometry } from './conv_plan';
import { runJsKernel } from './js_kernel';
import { subKernel } from './kernel_cache';
import { wasmKernelsReady } from './wasm_kernels';
import { BATCHED_GEMM, WINOGRAD_INPUT, WINOGRAD_KERNEL, WINOGRAD_OUTPUT } from './winograd_kernels';

/**
 * Channel pairs above which F(2×2) replaces F(4×4): the transformed kernels take α²/9 of the weight's
 * memory, twice (forward and backward), and ResNet's 7×7×512 stage has few tiles to spread them over.
 */
const MAX_F4_CHANNEL_PAIRS = 256 * 256;
/** Below this many multiply-adds the direct conv is faster than three kernel launches. */
const MIN_MACS = 4e6;
/**
 * XNNPACK's direct conv uses the whole wasm pool, our transforms and GEMM the engine's thread plus its kernel
 * threads (kernelThreads.ts): Winograd measured a clear win on one and two wasm threads (ResNet-18 vanilla
 * 283 → 110 ms and 144 → 97 ms, before kernel threads) and would at best tie from three up, so those keep
 * the direct conv.
 */
const MAX_THREADS = 2;

/** The output tile size a conv with this kernel [3, 3, ci, co] uses. */
export function winogradTile(kernelShape: number[]): 2 | 4 {
  return kernelShape[2] * kernelShape[3] > MAX_F4_CHANNEL_PAIRS ? 2 : 4;
}

let decisionThreadsOverride: number | undefined;

/**
 * Makes Winograd decisions as if the backend ran `threads` threads (undefined: its own count). A gradient
 * helper decides like the engine it helps, so both compute bit-identical sums for the same samples.
 */
export function setWinogradDecisionThreads(threads: number | undefined): void {
  decisionThreadsOverride = threads;
}

/** The wasm thread count kernel choices follow: the engine's, also inside a gradient helper (see above). */
export function decisionThreads(): number {
  return decisionThreadsOverride ?? getThreadsCount();
}

/**
 * Whether a conv of x [n, h, w, ci] with kernel [3, 3, ci, co] runs as Winograd here: stride and
 * dilation 1, channels in whole SIMD vectors, and enough work for the GEMM to outweigh the transforms.
 */
export function winogradSuits(xShape: number[], kernelShape: number[], strides: [number, number], dilations: [number, number]): boolean {
  const [kh, kw, ci, co] = kernelShape;
  if (kh !== 3 || kw !== 3 || strides[0] !== 1 || strides[1] !== 1 || dilations[0] !== 1 || dilations[1] !== 1) return false;
  if (ci % 4 !== 0 || co % 4 !== 0 || ci < 16 || co < 16 || xShape[1] < 4 || xShape[2] < 4) return false;
  if (xShape[0] * xShape[1] * xShape[2] * ci * co * 9 < MIN_MACS) return false;
  return wasmKernelsReady() && decisionThreads() <= MAX_THREADS;
}

/** The transformed kernels [α², ci, co] ([α², co, ci] flipped), cached with the weight they came from. */
function transformedKernels(kernel: tf.Tensor4D, flipped: boolean, m: 2 | 4): tf.Tensor3D {
  return subKernel(kernel, `winograd ${m} ${flipped}`, () => runJsKernel(WINOGRAD_KERNEL, [kernel], { m, flipped }) as tf.Tensor3D);
}

/**
 * conv2d(x, kernel [3, 3, ci, co], stride 1, pad) + bias by Winograd (see winogradSuits; the tile size
 * follows winogradTile). `flipped`: convolve with the input-gradient kernel of `kernel` (reversed taps,
 * [3, 3, co, ci]) instead.
 */
export function winogradConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, pad: ConvPad, bias?: tf.Tensor, flipped = false): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const co = kernel.shape[flipped ? 2 : 3];
  const m = winogradTile(kernel.shape);
  const geo = convGeometry(h, w, 3, 3, [1, 1], [1, 1], pad);
  const { outH: ho, outW: wo } = geo;
  const tilesH = Math.ceil(ho / m);
  const tilesW = Math.ceil(wo / m);
  const u = transformedKernels(kernel, flipped, m);
  return tf.tidy(() => {
    const v = runJsKernel(WINOGRAD_INPUT, [x], { m, tilesH, tilesW, pt: geo.pad[0], pl: geo.pad[2] });
    const prod = runJsKernel(BATCHED_GEMM, [v, u]);
    const b = bias ? tf.reshape(bias, [co]) : tf.zeros([co]);
    return runJsKernel(WINOGRAD_OUTPUT, [prod, b], { m, n, ho, wo, tilesH, tilesW }) as tf.Tensor4D;
  });
}
