/**
 * Data-movement kernels of the phase-decomposed conv gradient: gathering flipped sub-kernels, and
 * interleaving per-phase results into the full gradient (and its adjoint). On cpu/wasm they are single
 * JS passes (wasm's own Slice/Reverse/Transpose/DepthToSpace cost 2–75 ms at these sizes); elsewhere
 * they fall back to tf ops. Interleave and deinterleave are each other's gradient, so nested tf.grad works.
 */
import * as tf from '@tensorflow/tfjs-core';
import { copyRun, defineJsKernel, jsKernelsAvailable, runJsKernel } from './js_kernel';
import { wasmKernelsFor } from './wasm_kernels';

const TAPS = 'SaliencyLensGatherTaps';
const INTERLEAVE = 'SaliencyLensInterleave';
const DEINTERLEAVE = 'SaliencyLensDeinterleave';

/** The most phases (stride_h × stride_w) the JS interleave takes; larger strides use plain tf gradients. */
export const MAX_PHASES = 64;

const nums = (v: unknown): number[] => v as number[];

defineJsKernel({
  name: TAPS,
  inputNames: ['w'],
  outShapes: ([[, , a, b]], attrs) => {
    const swap = attrs.swap as boolean;
    return [[nums(attrs.hTaps).length, nums(attrs.wTaps).length, swap ? b : a, swap ? a : b]];
  },
  body: ([w], [[, kw, a, b]], [out], attrs) => {
    const hTaps = nums(attrs.hTaps);
    const wTaps = nums(attrs.wTaps);
    const swap = attrs.swap as boolean;
    let o = 0;
    for (const th of hTaps) {
      for (const tw of wTaps) {
        // Tap -1 is a zero tap (padding a window to a shape the backend's conv handles fast).
        if (th < 0 || tw < 0) {
          o += a * b;
          continue;
        }
        const base = (th * kw + tw) * a * b;
        if (!swap) {
          copyRun(out, o, w, base, a * b);
          o += a * b;
          continue;
        }
        for (let j = 0; j < b; j++) for (let i = 0; i < a; i++) out[o++] = w[base + i * b + j];
      }
    }
  },
});

/** The taps hTaps × wTaps (-1: zero) of w [KH,KW,A,B] in order, as [..,A,B] or with `swap` [..,B,A] (the gradient's kernel). */
export function gatherTaps(w: tf.Tensor4D, hTaps: number[], wTaps: number[], swap: boolean): tf.Tensor4D {
  if (jsKernelsAvailable()) return runJsKernel(TAPS, [w], { hTaps, wTaps, swap }) as tf.Tensor4D;
  return tf.tidy(() => {
    const g = tf.gather(tf.gather(w, hTaps, 0), wTaps, 1) as tf.Tensor4D;
    return swap ? tf.transpose(g, [0, 1, 3, 2]) : g;
  });
}

/** Attributes shared by interleave and deinterleave. */
export interface InterleaveAttrs {
  sh: number;
  sw: number;
  outH: number;
  outW: number;
  /** Positions per phase along H and W. */
  q: number;
  p: number;
  /** Channels of the full tensor are sums of `group` consecutive phase channels (depthwise multiplier). */
  group: number;
}

defineJsKernel({
  name: INTERLEAVE,
  inputNames: Array.from({ length: MAX_PHASES }, (_, i) => `p${i}`),
  outShapes: (inShapes, a) => [[inShapes[0][0], a.outH as number, a.outW as number, inShapes[0][3] / (a.group as number)]],
  body: (ins, inShapes, [out], a) => {
    const [sh, sw, outH, outW, group] = [a.sh, a.sw, a.outH, a.outW, a.group] as number[];
    const present = nums(a.present);
    const [n, q, p, cm] = inShapes[0];
    const c = cm / group;
    const simd = group === 1 ? wasmKernelsFor(out, ...ins) : null;
    ins.forEach((z, idx) => {
      const rh = Math.floor(present[idx] / sw);
      const rw = present[idx] % sw;
      if (simd) {
        const qLim = Math.min(q, Math.ceil((outH - rh) / sh));
        const pLim = Math.min(p, Math.ceil((outW - rw) / sw));
        simd.interleavePhase(z.byteOffset, out.byteOffset, n, q, p, c, sh, sw, rh, rw, outH, outW, qLim, pLim);
        return;
      }
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < q && i * sh + rh < outH; i++) {
          for (let j = 0; j < p && j * sw + rw < outW; j++) {
            const src = ((b * q + i) * p + j) * cm;
            const dst = ((b * outH + i * sh + rh) * outW + j * sw + rw) * c;
            if (group === 1) {
              copyRun(out, dst, z, src, c);
              continue;
            }
            for (let ch = 0; ch < c; ch++) {
              let s = 0;
              for (let m = 0; m < group; m++) s += z[src + ch * group + m];
              out[dst + ch] = s;
            }
          }
        }
      }
    });
  },
});

defineJsKernel({
  name: DEINTERLEAVE,
  inputNames: ['g'],
  outShapes: ([[n, , , c]], a) => [[n, a.q as number, a.p as number, c * (a.group as number)]],
  body: ([g], [[n, outH, outW, c]], [out], a) => {
    const [sh, sw, q, p, group, phase] = [a.sh, a.sw, a.q, a.p, a.group, a.phase] as number[];
    const rh = Math.floor(phase / sw);
    const rw = phase % sw;
    const cm = c * group;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < q && i * sh + rh < outH; i++) {
        for (let j = 0; j < p && j * sw + rw < outW; j++) {
          const dst = ((b * q + i) * p + j) * cm;
          const src = ((b * outH + i * sh + rh) * outW + j * sw + rw) * c;
          if (group === 1) {
            copyRun(out, dst, g, src, c);
            continue;
          }
          for (let ch = 0; ch < c; ch++) for (let m = 0; m < group; m++) out[dst + ch * group + m] = g[src + ch];
        }
      }
    }
  },
});

tf.registerGradient({
  kernelName: INTERLEAVE,
  gradFunc: (dy, _saved, attrs) => {
    const a = attrs as unknown as InterleaveAttrs & { present: number[] };
    const grads: Record<string, () => tf.Tensor> = {};
    a.present.forEach((phase, i) => (grads[`p${i}`] = () => deinterleave(dy as tf.Tensor4D, a, phase)));
    return grads;
  },
});

tf.registerGradient({
  kernelName: DEINTERLEAVE,
  gradFunc: (dy, _saved, attrs) => {
    const a = attrs as unknown as InterleaveAttrs & { phase: number };
    return { g: () => interleave([dy as tf.Tensor4D], [a.phase], a) };
  },
});

function attrMap(a: InterleaveAttrs): tf.NamedAttrMap {
  return { sh: a.sh, sw: a.sw, outH: a.outH, outW: a.outW, q: a.q, p: a.p, group: a.group };
}

/** [N,outH,outW,C] with pixel (i*sh+rh, j*sw+rw) from phases[k] where present[k] = rh*sw+rw; absent phases are 0. */
export function interleave(phases: tf.Tensor4D[], present: number[], a: InterleaveAttrs): tf.Tensor4D {
  if (a.sh === 1 && a.sw === 1 && a.group === 1 && a.q === a.outH && a.p === a.outW) return phases[0];
  if (jsKernelsAvailable()) return runJsKernel(INTERLEAVE, phases, { ...attrMap(a), present }) as tf.Tensor4D;
  return tf.tidy(() => interleaveOps(phases, present, a));
}

/** The adjoint of `interleave` for one phase: that phase's pixels of g, channels repeated `group` times. */
export function deinterleave(g: tf.Tensor4D, a: InterleaveAttrs, phase: number): tf.Tensor4D {
  if (jsKernelsAvailable()) return runJsKernel(DEINTERLEAVE, [g], { ...attrMap(a), phase }) as tf.Tensor4D;
  return tf.tidy(() => {
    const rh = Math.floor(phase / a.sw);
    const rw = phase % a.sw;
    const [n, h, w, c] = g.shape;
    // Pad to a whole number of stride cells, then pick the phase with a strided slice.
    const padded = tf.pad(g, [[0, 0], [0, a.q * a.sh - h], [0, a.p * a.sw - w], [0, 0]]);
    const picked = tf.stridedSlice(padded, [0, rh, rw, 0], [n, a.q * a.sh, a.p * a.sw, c], [1, a.sh, a.sw, 1]) as tf.Tensor4D;
    if (a.group === 1) return picked;
    return tf.reshape(tf.tile(tf.expandDims(picked, 4), [1, 1, 1, 1, a.group]), [n, a.q, a.p, c * a.group]) as tf.Tensor4D;
  });
}

function interleaveOps(phases: tf.Tensor4D[], present: number[], a: InterleaveAttrs): tf.Tensor4D {
  const [n, , , cm] = phases[0].shape;
  const c = cm / a.group;
  const summed = phases.map((z) => (a.group === 1 ? z : tf.sum(tf.reshape(z, [n, a.q, a.p, c, a.group]), 4)));
  const zero = tf.zeros([n, a.q, a.p, c]);
  const rows: tf.Tensor[] = [];
  for (let rh = 0; rh < a.sh; rh++) {
    const cols: tf.Tensor[] = [];
    for (let rw = 0; rw < a.sw; rw++) {
      const k = present.indexOf(rh * a.sw + rw);
      cols.push(k >= 0 ? summed[k] : zero);
    }
    rows.push(tf.reshape(tf.stack(cols, 3), [n, a.q, a.p * a.sw, c]));
  }
  const full = tf.reshape(tf.stack(rows, 2), [n, a.q * a.sh, a.p * a.sw, c]);
  return tf.slice(full, [0, 0, 0, 0], [n, a.outH, a.outW, c]) as tf.Tensor4D;
}
