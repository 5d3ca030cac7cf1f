/**
 * The data transforms of Winograd's F(4×4, 3×3) convolution as wasm SIMD functions, 4 channels per
 * instruction (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", points 0, ±1, ±2, ∞).
 * A 6×6 input tile d becomes Bᵀ d B (36 values per channel), the 36 products with the transformed kernel
 * G g Gᵀ are GEMMs over channels, and Aᵀ m A turns them back into a 4×4 output tile: 36 multiplies per
 * 16 outputs instead of 144.
 */
import { FnBuilder, SIMD } from './wasm_asm';

/** Bᵀ: the input transform (6×6). */
export const WINOGRAD_BT = [
  [4, 0, -5, 0, 1, 0],
  [0, -4, -4, 1, 1, 0],
  [0, 4, -4, -1, 1, 0],
  [0, -2, -1, 2, 1, 0],
  [0, 2, -1, -2, 1, 0],
  [0, 4, 0, -5, 0, 1],
];

/** G: the kernel transform (6×3). */
export const WINOGRAD_G = [
  [1 / 4, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6],
  [1 / 24, -1 / 12, 1 / 6],
  [0, 0, 1],
];

/** Aᵀ: the output transform (4×6). */
export const WINOGRAD_AT = [
  [1, 1, 1, 1, 1, 0],
  [0, 1, -1, 2, -2, 0],
  [0, 1, 1, 4, 4, 0],
  [0, 1, -1, 8, -8, 1],
];

/** Splatted constants, one v128 local per magnitude the matrices use. */
function constants(f: FnBuilder, rows: number[][]): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of rows.flat().map(Math.abs)) {
    if (c === 0 || c === 1 || out.has(c)) continue;
    const l = f.v128();
    f.f32Const(c).simd(SIMD.f32x4Splat).set(l);
    out.set(c, l);
  }
  return out;
}

/** Pushes Σ coefs[k]·terms[k] (v128 locals), starting from a positive term so that no negation is needed. */
function combine(f: FnBuilder, coefs: number[], terms: number[], consts: Map<number, number>): void {
  const order = coefs.map((c, k) => k).filter((k) => coefs[k] !== 0).sort((a, b) => Number(coefs[b] > 0) - Number(coefs[a] > 0));
  order.forEach((k, i) => {
    const c = coefs[k];
    f.get(terms[k]);
    if (Math.abs(c) !== 1) f.get(consts.get(Math.abs(c))!).simd(SIMD.f32x4Mul);
    if (i === 0) {
      if (c < 0) f.simd(SIMD.f32x4Neg);
      return;
    }
    f.simd(c < 0 ? SIMD.f32x4Sub : SIMD.f32x4Add);
  });
}

/**
 * winogradInput(x, n, hp, wp, c, tilesH, tilesW, v0 … v35): x is the zero-padded input [n, hp, wp, c]
 * (hp ≥ 4·tilesH + 2, wp ≥ 4·tilesW + 2, c a multiple of 4); vk [n·tilesH·tilesW, c] receives element k
 * (row-major in the 6×6 tile) of Bᵀ d B for every tile.
 */
export function winogradInput(): FnBuilder {
  const f = new FnBuilder('winogradInput', 7 + 36);
  const [x, n, hp, wp, c, tilesH, tilesW] = [0, 1, 2, 3, 4, 5, 6];
  const v = Array.from({ length: 36 }, (_, k) => 7 + k);
  const [b, ty, tx, cc, rs, tileBase, outBase, xb, ob] = Array.from({ length: 9 }, () => f.i32());
  const off = Array.from({ length: 36 }, () => f.i32());
  const d = Array.from({ length: 6 }, () => f.v128());
  const tmp = Array.from({ length: 36 }, () => f.v128());
  const consts = constants(f, WINOGRAD_BT);
  f.get(wp).get(c).mul().const(2).shl().set(rs);
  for (let k = 0; k < 6; k++) {
    for (let j = 0; j < 6; j++) f.get(rs).const(k).mul().get(c).const(j * 4).mul().add().set(off[k * 6 + j]);
  }
  f.loop(b, () => f.const(0), () => f.get(n), () => {
    f.loop(ty, () => f.const(0), () => f.get(tilesH), () => {
      f.loop(tx, () => f.const(0), () => f.get(tilesW), () => {
        f.get(b).get(hp).mul().get(ty).const(2).shl().add().get(wp).mul().get(tx).const(2).shl().add();
        f.get(c).mul().const(2).shl().get(x).add().set(tileBase);
        f.get(b).get(tilesH).mul().get(ty).add().get(tilesW).mul().get(tx).add().get(c).mul().const(2).shl().set(outBase);
        f.loop(cc, () => f.const(0), () => f.get(c), () => {
          f.get(tileBase).get(cc).const(2).shl().add().set(xb);
          f.get(outBase).get(cc).const(2).shl().add().set(ob);
          // Columns first: tmp = Bᵀ d, one column of the tile at a time.
          for (let j = 0; j < 6; j++) {
            for (let k = 0; k < 6; k++) f.get(xb).get(off[k * 6 + j]).add().simd(SIMD.load).set(d[k]);
            for (let i = 0; i < 6; i++) {
              combine(f, WINOGRAD_BT[i], d, consts);
              f.set(tmp[i * 6 + j]);
            }
          }
          // Then rows: (Bᵀ d) B, stored straight to the 36 outputs.
          for (let i = 0; i < 6; i++) {
            const row = tmp.slice(i * 6, i * 6 + 6);
            for (let j = 0; j < 6; j++) {
              f.get(v[i * 6 + j]).get(ob).add();
              combine(f, WINOGRAD_BT[j], row, consts);
              f.simd(SIMD.store);
            }
          }
        }, 4);
      });
    });
  });
  return f;
}

/**
 * winogradOutput(m0 … m35, y, bias, n, ho, wo, co, tilesH, tilesW): mk [n·tilesH·tilesW, co] are the 36
 * GEMM products; y [n, ho, wo, co] receives Aᵀ m A + bias, cropped where a tile passes the edge
 * (co a multiple of 4, bias [co]).
 */
export function winogradOutput(): FnBuilder {
  const f = new FnBuilder('winogradOutput', 36 + 8);
  const m = Array.from({ length: 36 }, (_, k) => k);
  const [y, bias, n, ho, wo, co, tilesH, tilesW] = [36, 37, 38, 39, 40, 41, 42, 43];
  const [b, ty, tx, cc, ys, rLim, sLim, mBase, yBase, mb, yb] = Array.from({ length: 11 }, () => f.i32());
  const off = Array.from({ length: 16 }, () => f.i32());
  const col = Array.from({ length: 6 }, () => f.v128());
  const tmp = Array.from({ length: 24 }, () => f.v128());
  const bv = f.v128();
  const consts = constants(f, WINOGRAD_AT);
  f.get(wo).get(co).mul().const(2).shl().set(ys);
  for (let r = 0; r < 4; r++) {
    for (let s = 0; s < 4; s++) f.get(ys).const(r).mul().get(co).const(s * 4).mul().add().set(off[r * 4 + s]);
  }
  f.loop(b, () => f.const(0), () => f.get(n), () => {
    f.loop(ty, () => f.const(0), () => f.get(tilesH), () => {
      f.get(ho).get(ty).const(2).shl().sub().const(4).min().set(rLim);
      f.loop(tx, () => f.const(0), () => f.get(tilesW), () => {
        f.get(wo).get(tx).const(2).shl().sub().const(4).min().set(sLim);
        f.get(b).get(tilesH).mul().get(ty).add().get(tilesW).mul().get(tx).add().get(co).mul().const(2).shl().set(mBase);
        f.get(b).get(ho).mul().get(ty).const(2).shl().add().get(wo).mul().get(tx).const(2).shl().add();
        f.get(co).mul().const(2).shl().get(y).add().set(yBase);
        f.loop(cc, () => f.const(0), () => f.get(co), () => {
          f.get(mBase).get(cc).const(2).shl().add().set(mb);
          f.get(yBase).get(cc).const(2).shl().add().set(yb);
          f.get(bias).get(cc).const(2).shl().add().simd(SIMD.load).set(bv);
          // tmp = Aᵀ m, one column of the 6×6 tile at a time.
          for (let j = 0; j < 6; j++) {
            for (let i = 0; i < 6; i++) f.get(m[i * 6 + j]).get(mb).add().simd(SIMD.load).set(col[i]);
            for (let r = 0; r < 4; r++) {
              combine(f, WINOGRAD_AT[r], col, consts);
              f.set(tmp[r * 6 + j]);
            }
          }
          for (let r = 0; r < 4; r++) {
            const row = tmp.slice(r * 6, r * 6 + 6);
            for (let s = 0; s < 4; s++) {
              // Only the part of the tile inside the output is written.
              f.const(r).get(rLim).ltS().const(s).get(sLim).ltS().and().when(() => {
                f.get(yb).get(off[r * 4 + s]).add();
                combine(f, WINOGRAD_AT[s], row, consts);
                f.get(bv).simd(SIMD.f32x4Add).simd(SIMD.store);
              });
            }
          }
        }, 4);
      });
    });
  });
  return f;
}
