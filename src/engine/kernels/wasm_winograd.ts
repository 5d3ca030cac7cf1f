/**
 * The data transforms of Winograd's F(m×m, 3×3) convolutions as wasm SIMD functions, 4 channels per
 * instruction (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks"). An α×α input tile d
 * (α = m + 2) becomes Bᵀ d B (α² values per channel), the α² products with the transformed kernel
 * G g Gᵀ are GEMMs over channels, and Aᵀ m A turns them back into an m×m output tile: for m = 4, 36
 * multiplies per 16 outputs instead of 144.
 */
import { FnBuilder, SIMD } from './wasm_asm';

/** One Winograd algorithm F(m×m, 3×3): m×m outputs per tile of α = m + 2 inputs. */
export interface WinogradVariant {
  /** Output tile size. */
  m: number;
  /** Input tile size, m + 2. */
  alpha: number;
  /** Bᵀ (α×α), G (α×3), Aᵀ (m×α). */
  bt: number[][];
  g: number[][];
  at: number[][];
}

/** F(4×4, 3×3): 36 multiplies per 16 outputs (points 0, ±1, ±2, ∞). */
export const WINOGRAD_F4: WinogradVariant = {
  m: 4,
  alpha: 6,
  bt: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  g: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  at: [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
  ],
};

/** F(2×2, 3×3): 16 multiplies per 4 outputs (points 0, ±1, ∞); transformed kernels 16/9 of the weight, not 4×. */
export const WINOGRAD_F2: WinogradVariant = {
  m: 2,
  alpha: 4,
  bt: [
    [1, 0, -1, 0],
    [0, 1, 1, 0],
    [0, -1, 1, 0],
    [0, 1, 0, -1],
  ],
  g: [
    [1, 0, 0],
    [1 / 2, 1 / 2, 1 / 2],
    [1 / 2, -1 / 2, 1 / 2],
    [0, 0, 1],
  ],
  at: [
    [1, 1, 1, 0],
    [0, 1, -1, -1],
  ],
};

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

/** `count` i32 locals holding base + k·(floats per plane)·4: the addresses of the planes of a [count, …] tensor. */
function planes(f: FnBuilder, base: number, count: number, floatsPerPlane: () => void): number[] {
  const stride = f.i32();
  floatsPerPlane();
  f.const(2).shl().set(stride);
  return Array.from({ length: count }, (_, k) => {
    const l = f.i32();
    f.get(stride).const(k).mul().get(base).add().set(l);
    return l;
  });
}

/**
 * size² i32 locals holding the byte offsets of the pixels of a size × size tile from its corner, row-major, in
 * an NHWC image whose rows are `width` × `channels` floats (width and channels: i32 locals).
 */
function tileOffsets(f: FnBuilder, width: number, channels: number, size: number): number[] {
  const rowBytes = f.i32();
  f.get(width).get(channels).mul().const(2).shl().set(rowBytes);
  return Array.from({ length: size * size }, (_, i) => {
    const l = f.i32();
    f.get(rowBytes).const(Math.floor(i / size)).mul().get(channels).const((i % size) * 4).mul().add().set(l);
    return l;
  });
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
 * The first half of a transform L · X · Rᵀ: for each of the α columns of the tile, `loadColumn(j)` puts it in
 * the `column` locals, and row r of `left` combines them into tmp[r·α + j].
 */
function columnPass(f: FnBuilder, left: number[][], alpha: number, column: number[], tmp: number[], consts: Map<number, number>,
  loadColumn: (j: number) => void): void {
  for (let j = 0; j < alpha; j++) {
    loadColumn(j);
    left.forEach((row, r) => {
      combine(f, row, column, consts);
      f.set(tmp[r * alpha + j]);
    });
  }
}

/**
 * winogradInput{m}(x, n, h, w, c, pt, pl, tilesH, tilesW, v, tyLo, tyHi): x is the input [n, h, w, c] (c a
 * multiple of 4), zero-padded by pt rows on top and pl columns on the left, and by whatever the tiles need on
 * the other sides; v [α², n·tilesH·tilesW, c] receives in v[k] element k (row-major in the α×α tile) of
 * Bᵀ d B for the tiles in rows tyLo ≤ ty < tyHi (kernel threads split the rows). Interior tiles load
 * directly; tiles at the border test each row and column.
 */
export function winogradInput({ m, alpha: A, bt }: WinogradVariant): FnBuilder {
  const f = new FnBuilder(`winogradInput${m}`, 12);
  const [x, n, h, w, c, pt, pl, tilesH, tilesW, vBase, tyLo, tyHi] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const v = planes(f, vBase, A * A, () => f.get(n).get(tilesH).mul().get(tilesW).mul().get(c).mul());
  const [b, ty, tx, cc, y0, x0, interior, tileBase, outBase, xb, ob] = Array.from({ length: 11 }, () => f.i32());
  const rowOk = Array.from({ length: A }, () => f.i32());
  const colOk = Array.from({ length: A }, () => f.i32());
  const d = Array.from({ length: A }, () => f.v128());
  const tmp = Array.from({ length: A * A }, () => f.v128());
  const zero = f.v128();
  const consts = constants(f, bt);
  const off = tileOffsets(f, w, c, A);
  f.const(0).simd(SIMD.i32x4Splat).set(zero);
  const transform = (load: (k: number, j: number) => void): void => {
    // Columns first: tmp = Bᵀ d, one column of the tile at a time.
    columnPass(f, bt, A, d, tmp, consts, (j) => {
      for (let k = 0; k < A; k++) load(k, j);
    });
    // Then rows: (Bᵀ d) B, stored straight to the α² outputs.
    for (let i = 0; i < A; i++) {
      const row = tmp.slice(i * A, i * A + A);
      for (let j = 0; j < A; j++) {
        f.get(v[i * A + j]).get(ob).add();
        combine(f, bt[j], row, consts);
        f.simd(SIMD.store);
      }
    }
  };
  const channels = (load: (k: number, j: number) => void): void => {
    f.loop(cc, () => f.const(0), () => f.get(c), () => {
      f.get(tileBase).get(cc).const(2).shl().add().set(xb);
      f.get(outBase).get(cc).const(2).shl().add().set(ob);
      transform(load);
    }, 4);
  };
  f.loop(b, () => f.const(0), () => f.get(n), () => {
    f.loop(ty, () => f.get(tyLo), () => f.get(tyHi), () => {
      f.get(ty).const(m).mul().get(pt).sub().set(y0);
      for (let k = 0; k < A; k++) f.get(y0).const(k).add().const(0).geS().get(y0).const(k).add().get(h).ltS().and().set(rowOk[k]);
      f.loop(tx, () => f.const(0), () => f.get(tilesW), () => {
        f.get(tx).const(m).mul().get(pl).sub().set(x0);
        for (let j = 0; j < A; j++) f.get(x0).const(j).add().const(0).geS().get(x0).const(j).add().get(w).ltS().and().set(colOk[j]);
        f.get(rowOk[0]).get(rowOk[A - 1]).and().get(colOk[0]).and().get(colOk[A - 1]).and().set(interior);
        // The tile's corner may lie in the padding: only addresses of in-range pixels are ever loaded.
        f.get(b).get(h).mul().get(y0).add().get(w).mul().get(x0).add().get(c).mul().const(2).shl().get(x).add().set(tileBase);
        f.get(b).get(tilesH).mul().get(ty).add().get(tilesW).mul().get(tx).add().get(c).mul().const(2).shl().set(outBase);
        f.get(interior).ifElse(
          () => channels((k, j) => f.get(xb).get(off[k * A + j]).add().simd(SIMD.load).set(d[k])),
          () => channels((k, j) => {
            f.get(zero).set(d[k]);
            f.get(rowOk[k]).get(colOk[j]).and().when(() => f.get(xb).get(off[k * A + j]).add().simd(SIMD.load).set(d[k]));
          }),
        );
      });
    });
  });
  return f;
}

/**
 * winogradOutput{m}(m, y, bias, n, ho, wo, co, tilesH, tilesW, tyLo, tyHi): m [α², n·tilesH·tilesW, co]
 * are the α² GEMM products; y [n, ho, wo, co] receives Aᵀ m A + bias for the tiles in rows tyLo ≤ ty < tyHi,
 * cropped where a tile passes the edge (co a multiple of 4, bias [co]).
 */
export function winogradOutput({ m: M, alpha: A, at }: WinogradVariant): FnBuilder {
  const f = new FnBuilder(`winogradOutput${M}`, 11);
  const [mBase0, y, bias, n, ho, wo, co, tilesH, tilesW, tyLo, tyHi] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const m = planes(f, mBase0, A * A, () => f.get(n).get(tilesH).mul().get(tilesW).mul().get(co).mul());
  const [b, ty, tx, cc, rLim, sLim, mBase, yBase, mb, yb] = Array.from({ length: 10 }, () => f.i32());
  const col = Array.from({ length: A }, () => f.v128());
  const tmp = Array.from({ length: M * A }, () => f.v128());
  const bv = f.v128();
  const consts = constants(f, at);
  const off = tileOffsets(f, wo, co, M);
  f.loop(b, () => f.const(0), () => f.get(n), () => {
    f.loop(ty, () => f.get(tyLo), () => f.get(tyHi), () => {
      f.get(ho).get(ty).const(M).mul().sub().const(M).min().set(rLim);
      f.loop(tx, () => f.const(0), () => f.get(tilesW), () => {
        f.get(wo).get(tx).const(M).mul().sub().const(M).min().set(sLim);
        f.get(b).get(tilesH).mul().get(ty).add().get(tilesW).mul().get(tx).add().get(co).mul().const(2).shl().set(mBase);
        f.get(b).get(ho).mul().get(ty).const(M).mul().add().get(wo).mul().get(tx).const(M).mul().add();
        f.get(co).mul().const(2).shl().get(y).add().set(yBase);
        f.loop(cc, () => f.const(0), () => f.get(co), () => {
          f.get(mBase).get(cc).const(2).shl().add().set(mb);
          f.get(yBase).get(cc).const(2).shl().add().set(yb);
          f.get(bias).get(cc).const(2).shl().add().simd(SIMD.load).set(bv);
          // tmp = Aᵀ m, one column of the α×α tile at a time.
          columnPass(f, at, A, col, tmp, consts, (j) => {
            for (let i = 0; i < A; i++) f.get(m[i * A + j]).get(mb).add().simd(SIMD.load).set(col[i]);
          });
          for (let r = 0; r < M; r++) {
            const row = tmp.slice(r * A, r * A + A);
            for (let s = 0; s < M; s++) {
              // Only the part of the tile inside the output is written.
              f.const(r).get(rLim).ltS().const(s).get(sLim).ltS().and().when(() => {
                f.get(yb).get(off[r * M + s]).add();
                combine(f, at[s], row, consts);
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
