/**
 * wasm SIMD versions of the JS kernels whose per-element cost dominates them: the max-pool gradient
 * scatter, col2im and the interleave of conv-gradient phases. They run in a tiny module that imports the wasm backend's own memory, so they read
 * and write tensors in place (4 channels per instruction, no bounds checks): ~10× faster than the JS loops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assemble, FnBuilder, SIMD } from './wasm_asm';
import { WINOGRAD_F2, WINOGRAD_F4, winogradInput, winogradOutput } from './wasm_winograd';
import { gemmBatched } from './wasm_gemm';
import type { KernelModule } from './kernelThreads';

type Kernel = (...args: number[]) => void;

/** The exported kernels. Pointers are byte offsets into the backend's memory. */
export interface WasmKernels {
  /** x, y, dy, dx, n, h, w, c, kh, kw, sh, sw, pt, pl, outH, outW (c a multiple of 4). */
  maxPoolScatter: Kernel;
  /** cols, px, n, h, w, c, kh, kw, sh, sw, dh, pt, pl, oh, ow, colStride (width dilation 1). */
  col2im: Kernel;
  /** ptr, count: 1 if any of the floats is NaN, else 0. */
  anyNaN: (ptr: number, count: number) => number;
  /** src, dst, n, q, p, c, sh, sw, rh, rw, outH, outW, qLim, pLim: one stride phase into the interleaved tensor. */
  interleavePhase: Kernel;
  /** x, n, h, w, c, pt, pl, tilesH, tilesW, v, tyLo, tyHi: Winograd F(4×4, 3×3) input tiles (see wasm_winograd.ts). */
  winogradInput4: Kernel;
  /** m, y, bias, n, ho, wo, co, tilesH, tilesW, tyLo, tyHi: Winograd F(4×4, 3×3) output tiles plus bias. */
  winogradOutput4: Kernel;
  /** The same for F(2×2, 3×3). */
  winogradInput2: Kernel;
  winogradOutput2: Kernel;
  /** a, b, c, batch, rows, inner, cols, bias, ld: c[k] = a[k] · b[k] + bias (see wasm_gemm.ts). */
  gemmBatched: Kernel;
  /** px, cols, n, h, w, c, kh, kw, sh, sw, dh, pt, pl, oh, ow, yLo, yHi: the windows of output rows [yLo, yHi) as cols rows. */
  im2col: Kernel;
  /** dy, x, dx, lo, hi, alpha, from, to (floats as their bits; from, to multiples of 4): see maskedScale. */
  maskedScale: Kernel;
}

/**
 * Adds dy (where y came from) into dx, window by window in row-major order as the JS scatter does: for
 * each group of 4 channels the first tap equal to y takes dy (`rem` marks the lanes still looking).
 * Lanes whose y is -Infinity take nothing (no maximum); inputs with NaN go to the JS kernel, because a
 * maximum over NaN depends on the order the pooling kernel compared its taps in.
 */
function maxPoolScatter(): FnBuilder {
  const f = new FnBuilder('maxPoolScatter', 16);
  const [x, y, dy, dx, n, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow] = Array.from({ length: 16 }, (_, i) => i);
  const [b, r, q, hLo, hHi, wLo, wHi, ch, ih, iw, yOff, p] = Array.from({ length: 12 }, () => f.i32());
  const [y4, d4, rem, hit, negInf] = Array.from({ length: 5 }, () => f.v128());
  f.f32Const(-Infinity).simd(SIMD.f32x4Splat).set(negInf);
  f.loop(b, () => f.const(0), () => f.get(n), () => {
    f.loop(r, () => f.const(0), () => f.get(oh), () => {
      f.get(r).get(sh).mul().get(pt).sub().const(0).max().set(hLo);
      f.get(r).get(sh).mul().get(pt).sub().get(kh).add().get(h).min().set(hHi);
      f.loop(q, () => f.const(0), () => f.get(ow), () => {
        f.get(q).get(sw).mul().get(pl).sub().const(0).max().set(wLo);
        f.get(q).get(sw).mul().get(pl).sub().get(kw).add().get(w).min().set(wHi);
        f.get(b).get(oh).mul().get(r).add().get(ow).mul().get(q).add().get(c).mul().const(2).shl().set(yOff);
        f.loop(ch, () => f.const(0), () => f.get(c), () => {
          f.get(y).get(yOff).add().get(ch).const(2).shl().add().simd(SIMD.load).set(y4);
          f.get(dy).get(yOff).add().get(ch).const(2).shl().add().simd(SIMD.load).set(d4);
          f.get(y4).get(negInf).simd(SIMD.f32x4Gt).set(rem);
          f.loop(ih, () => f.get(hLo), () => f.get(hHi), () => {
            f.loop(iw, () => f.get(wLo), () => f.get(wHi), () => {
              f.get(b).get(h).mul().get(ih).add().get(w).mul().get(iw).add().get(c).mul().get(ch).add().const(2).shl().set(p);
              f.get(x).get(p).add().simd(SIMD.load).get(y4).simd(SIMD.f32x4Eq).get(rem).simd(SIMD.and).set(hit);
              f.get(rem).get(hit).simd(SIMD.andNot).set(rem);
              // dx += dy & hit: adding +0 elsewhere changes no sum, and 0·∞ never arises.
              f.get(dx).get(p).add();
              f.get(dx).get(p).add().simd(SIMD.load).get(d4).get(hit).simd(SIMD.and).simd(SIMD.f32x4Add);
              f.simd(SIMD.store);
            });
          });
        }, 4);
      });
    });
  });
  return f;
}

/**
 * px[window taps] += cols[window row], one contiguous run of taps × channels per kernel row, 4 floats at a time;
 * cols rows are colStride floats apart (≥ kh·kw·c: a GEMM may pad them to whole SIMD vectors).
 */
function col2im(): FnBuilder {
  const f = new FnBuilder('col2im', 16);
  const [cols, px, n, h, w, c, kh, kw, sh, sw, dh, pt, pl, oh, ow, colStride] = Array.from({ length: 16 }, (_, i) => i);
  const [b, y, i, ih, xx, iw0, jLo, len, pp, cp, k] = Array.from({ length: 11 }, () => f.i32());
  f.loop(b, () => f.const(0), () => f.get(n), () => {
    f.loop(y, () => f.const(0), () => f.get(oh), () => {
      f.loop(i, () => f.const(0), () => f.get(kh), () => {
        f.get(y).get(sh).mul().get(pt).sub().get(i).get(dh).mul().add().set(ih);
        f.get(ih).const(0).geS().get(ih).get(h).ltS().and().when(() => {
          f.loop(xx, () => f.const(0), () => f.get(ow), () => {
            f.get(xx).get(sw).mul().get(pl).sub().set(iw0);
            f.const(0).get(iw0).sub().const(0).max().set(jLo);
            f.get(kw).get(w).get(iw0).sub().min().get(jLo).sub().get(c).mul().set(len);
            // Byte offsets of the run in px and in cols.
            f.get(b).get(h).mul().get(ih).add().get(w).mul().get(iw0).add().get(jLo).add().get(c).mul().const(2).shl().get(px).add().set(pp);
            f.get(b).get(oh).mul().get(y).add().get(ow).mul().get(xx).add().get(colStride).mul();
            f.get(i).get(kw).mul().get(jLo).add().get(c).mul().add().const(2).shl().get(cols).add().set(cp);
            f.loop(k, () => f.const(0), () => f.get(len).const(3).sub(), () => {
              f.get(pp).get(k).const(2).shl().add();
              f.get(pp).get(k).const(2).shl().add().simd(SIMD.load);
              f.get(cp).get(k).const(2).shl().add().simd(SIMD.load).simd(SIMD.f32x4Add).simd(SIMD.store);
            }, 4);
            f.loop(k, () => f.get(k), () => f.get(len), () => {
              f.get(pp).get(k).const(2).shl().add();
              f.get(pp).get(k).const(2).shl().add().f32Load();
              f.get(cp).get(k).const(2).shl().add().f32Load().f32Add().f32Store();
            });
          });
        });
      });
    });
  });
  return f;
}

/**
 * The inverse walk of col2im: cols[window row] = the window's taps × channels (zeros where a tap lies in the
 * padding), for output rows yLo ≤ y < yHi of every image (width dilation 1).
 */
function im2col(): FnBuilder {
  const f = new FnBuilder('im2col', 17);
  const [px, cols, n, h, w, c, kh, kw, sh, sw, dh, pt, pl, oh, ow, yLo, yHi] = Array.from({ length: 17 }, (_, i) => i);
  const [b, y, i, ih, xx, iw0, jLo, jHi, pp, cp, k, rowLen, runLen] = Array.from({ length: 13 }, () => f.i32());
  const zeros = (from: () => void, to: () => void): void => {
    f.loop(k, from, to, () => f.get(cp).get(k).const(2).shl().add().f32Const(0).f32Store());
  };
  f.get(kh).get(kw).mul().get(c).mul().set(rowLen);
  f.get(kw).get(c).mul().set(runLen);
  f.loop(b, () => f.const(0), () => f.get(n), () => {
    f.loop(y, () => f.get(yLo), () => f.get(yHi), () => {
      f.loop(i, () => f.const(0), () => f.get(kh), () => {
        f.get(y).get(sh).mul().get(pt).sub().get(i).get(dh).mul().add().set(ih);
        f.loop(xx, () => f.const(0), () => f.get(ow), () => {
          f.get(b).get(oh).mul().get(y).add().get(ow).mul().get(xx).add().get(rowLen).mul();
          f.get(i).get(runLen).mul().add().const(2).shl().get(cols).add().set(cp);
          f.get(xx).get(sw).mul().get(pl).sub().set(iw0);
          // Taps jLo ≤ j < jHi of this kernel row are inside the image (none when the row is outside it).
          f.const(0).get(iw0).sub().const(0).max().set(jLo);
          f.get(kw).get(w).get(iw0).sub().min().get(jLo).max().set(jHi);
          f.get(ih).const(0).geS().get(ih).get(h).ltS().and().ifElse(() => {
            zeros(() => f.const(0), () => f.get(jLo).get(c).mul());
            f.get(b).get(h).mul().get(ih).add().get(w).mul().get(iw0).add().get(c).mul().const(2).shl().get(px).add().set(pp);
            // k runs over float offsets in the window row; the pixel run starts at jLo·c.
            f.loop(k, () => f.get(jLo).get(c).mul(), () => f.get(jHi).get(c).mul().const(3).sub(), () => {
              f.get(cp).get(k).const(2).shl().add();
              f.get(pp).get(k).const(2).shl().add().simd(SIMD.load).simd(SIMD.store);
            }, 4);
            f.loop(k, () => f.get(k), () => f.get(jHi).get(c).mul(), () => {
              f.get(cp).get(k).const(2).shl().add();
              f.get(pp).get(k).const(2).shl().add().f32Load().f32Store();
            });
            zeros(() => f.get(jHi).get(c).mul(), () => f.get(runLen));
          }, () => zeros(() => f.const(0), () => f.get(runLen)));
        });
      });
    });
  });
  return f;
}

/** Copies phase (rh, rw) [n, q, p, c] to pixels (i·sh + rh, j·sw + rw) of [n, outH, outW, c], i < qLim, j < pLim. */
function interleavePhase(): FnBuilder {
  const f = new FnBuilder('interleavePhase', 14);
  const [src, dst, n, q, p, c, sh, sw, rh, rw, outH, outW, qLim, pLim] = Array.from({ length: 14 }, (_, i) => i);
  const [b, i, j, k, s, d] = Array.from({ length: 6 }, () => f.i32());
  f.loop(b, () => f.const(0), () => f.get(n), () => {
    f.loop(i, () => f.const(0), () => f.get(qLim), () => {
      f.loop(j, () => f.const(0), () => f.get(pLim), () => {
        f.get(b).get(q).mul().get(i).add().get(p).mul().get(j).add().get(c).mul().const(2).shl().get(src).add().set(s);
        f.get(b).get(outH).mul().get(i).get(sh).mul().add().get(rh).add().get(outW).mul();
        f.get(j).get(sw).mul().add().get(rw).add().get(c).mul().const(2).shl().get(dst).add().set(d);
        f.loop(k, () => f.const(0), () => f.get(c).const(3).sub(), () => {
          f.get(d).get(k).const(2).shl().add().get(s).get(k).const(2).shl().add().simd(SIMD.load).simd(SIMD.store);
        }, 4);
        f.loop(k, () => f.get(k), () => f.get(c), () => {
          f.get(d).get(k).const(2).shl().add().get(s).get(k).const(2).shl().add().f32Load().f32Store();
        });
      });
    });
  });
  return f;
}

/** Whether any of `count` floats at `ptr` is NaN (x != x), 4 at a time. */
function anyNaN(): FnBuilder {
  const f = new FnBuilder('anyNaN', 2, true);
  const [ptr, count] = [0, 1];
  const [i, flag] = [f.i32(), f.i32()];
  const acc = f.v128();
  f.const(0).simd(SIMD.i32x4Splat).set(acc);
  f.loop(i, () => f.const(0), () => f.get(count).const(3).sub(), () => {
    f.get(ptr).get(i).const(2).shl().add().simd(SIMD.load);
    f.get(ptr).get(i).const(2).shl().add().simd(SIMD.load).simd(SIMD.f32x4Ne).get(acc).simd(SIMD.or).set(acc);
  }, 4);
  f.loop(i, () => f.get(i), () => f.get(count), () => {
    f.get(ptr).get(i).const(2).shl().add().f32Load();
    f.get(ptr).get(i).const(2).shl().add().f32Load().f32Ne().get(flag).or().set(flag);
  });
  f.get(acc).simd(SIMD.anyTrue).get(flag).or();
  return f;
}

/**
 * dx[i] = dy[i] · (lo ≤ x[i] ≤ hi ? 1 : alpha), NaN where x[i] is NaN, for i in [from, to): an activation's input
 * gradient in one pass (ReLU, leaky ReLU, ReLU6, clip) where TF.js's ops take two to four. lo, hi and alpha
 * come as the bits of float32 values (the parameters are i32; a splat of the bits is the float vector).
 */
function maskedScale(): FnBuilder {
  const f = new FnBuilder('maskedScale', 8);
  const [dy, x, dx, lo, hi, alpha, from, to] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [i, at] = [f.i32(), f.i32()];
  const [loV, hiV, alphaV, oneV, nanV, xv, factor] = Array.from({ length: 7 }, () => f.v128());
  const splat = (bits: () => void, v: number): void => {
    bits();
    f.simd(SIMD.i32x4Splat).set(v);
  };
  splat(() => f.get(lo), loV);
  splat(() => f.get(hi), hiV);
  splat(() => f.get(alpha), alphaV);
  splat(() => f.const(0x3f800000), oneV); // 1.0f
  splat(() => f.const(0x7fc00000), nanV); // the canonical NaN, as TF.js's Step gives
  f.loop(i, () => f.get(from), () => f.get(to), () => {
    f.get(i).const(2).shl().set(at);
    f.get(x).get(at).add().simd(SIMD.load).set(xv);
    f.get(oneV).get(alphaV);
    f.get(xv).get(loV).simd(SIMD.f32x4Ge).get(xv).get(hiV).simd(SIMD.f32x4Le).simd(SIMD.and);
    f.simd(SIMD.bitselect).set(factor);
    f.get(nanV).get(factor).get(xv).get(xv).simd(SIMD.f32x4Ne).simd(SIMD.bitselect).set(factor);
    f.get(dx).get(at).add();
    f.get(dy).get(at).add().simd(SIMD.load).get(factor).simd(SIMD.f32x4Mul);
    f.simd(SIMD.store);
  }, 4);
  return f;
}

/** The part of WebAssembly.Memory used here (the compiler's lib, without DOM, does not declare WebAssembly). */
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
const webAssembly = (globalThis as unknown as {
  WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object, imports: object) => { exports: unknown } };
}).WebAssembly;

const instances = new WeakMap<WasmMemory, WasmKernels | null>();
const modules = new WeakMap<WasmKernels, KernelModule>();

interface EmscriptenModule {
  wasmMemory?: WasmMemory;
  asm?: { memory?: WasmMemory };
}

/** The wasm backend's memory, if the current backend is wasm. */
function backendMemory(): WasmMemory | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const mod = (tf.backend() as unknown as { wasm?: EmscriptenModule }).wasm;
  // The threaded build imports a shared memory it keeps as wasmMemory; the single-threaded one exports its own.
  return mod?.wasmMemory ?? mod?.asm?.memory;
}

let enabled = true;
const calls = new Map<string, number>();

/** How many times each wasm kernel ran (tests check that the SIMD path is the one taken). */
export function wasmKernelCalls(name: keyof WasmKernels): number {
  return calls.get(name) ?? 0;
}

/** Tests switch the wasm kernels off to compare them with the JS ones. */
export function setWasmKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** Whether the wasm SIMD kernels can run now (the wasm backend, SIMD, and not switched off by a test). */
export function wasmKernelsReady(): boolean {
  const memory = enabled ? backendMemory() : undefined;
  return memory !== undefined && kernelsFor(memory) !== null;
}

/** The kernels for arrays that live in the wasm backend's memory, or null (other backends, or no SIMD). */
export function wasmKernelsFor(...arrays: Float32Array[]): WasmKernels | null {
  const memory = enabled ? backendMemory() : undefined;
  if (!memory || arrays.some((a) => a.buffer !== memory.buffer)) return null;
  return kernelsFor(memory);
}

/** The compiled module behind `kernels`, for kernel threads to instantiate on the same memory. */
export function kernelModuleOf(kernels: WasmKernels): KernelModule {
  return modules.get(kernels)!;
}

function kernelsFor(memory: WasmMemory): WasmKernels | null {
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    try {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      // Synchronous compilation: the module is a few hundred bytes.
      const module = new webAssembly.Module(assemble([maxPoolScatter(), col2im(), anyNaN(), interleavePhase(), ...[WINOGRAD_F4, WINOGRAD_F2].flatMap((v) => [winogradInput(v), winogradOutput(v)]), gemmBatched(), im2col(), maskedScale()], shared));
      const raw = new webAssembly.Instance(module, { env: { memory } }).exports as Record<string, Kernel>;
      kernels = Object.fromEntries(Object.entries(raw).map(([name, fn]) => [name, (...args: number[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return fn(...args);
      }])) as unknown as WasmKernels;
      modules.set(kernels, { memory, module, names: Object.keys(raw), run: kernels as unknown as KernelModule['run'] });
    } catch {
      kernels = null;
    }
    instances.set(memory, kernels);
  }
  return kernels;
}
