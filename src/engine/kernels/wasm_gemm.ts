/**
 * A batched GEMM in wasm SIMD for Winograd's 36 channel contractions: one call does them all, where 36
 * backend matMuls cost a dispatch each (~5 µs on one thread, 35–60 µs through a 2-thread pool, more
 * when another process holds a core) and keep a packed copy of every weight matrix.
 */
import { FnBuilder, SIMD } from './wasm_asm';
import { type KernelModule, runPieces, splitFor } from './kernelThreads';

/**
 * gemmBatched(a, b, c, batch, rows, inner, cols, bias, ldb, ldc): c[k] = a[k] · b[k] (+ bias [cols] unless bias
 * is 0) for k < batch, with a [batch, rows, inner], b [batch, inner, ldb], c [batch, rows, ldc] of which the first
 * cols columns are used (ldb, ldc ≥ cols, cols a multiple of 4; a column range of a wider product is a piece). Each
 * output sums its products in inner order whatever the blocking, so a row computes the same bits in any piece
 * of a split. Blocks of 4 rows × 8 columns keep 8 accumulators in registers (V8 has 16 on x64: 4 × 16 spills
 * and runs at half the speed; 4 × 8 measured 40–44 GFLOP/s on one thread, XNNPACK's matMul 28–34); edges use
 * 1-row and 4-column blocks.
 */
export function gemmBatched(rowsPerBlock = 4, vecsPerBlock = 2): FnBuilder {
  const f = new FnBuilder('gemmBatched', 10);
  const [a, b, c, batch, rows, inner, cols, bias, ldb, ldc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [k, r0, c0, kk, ak, bk, ck, aRow, bRow, cRow, pb] = Array.from({ length: 11 }, () => f.i32());
  const pa = Array.from({ length: rowsPerBlock }, () => f.i32());
  const acc = Array.from({ length: rowsPerBlock * vecsPerBlock }, () => f.v128());
  const bv = Array.from({ length: vecsPerBlock }, () => f.v128());
  const av = f.v128();
  f.get(inner).const(2).shl().set(aRow);
  f.get(ldb).const(2).shl().set(bRow);
  f.get(ldc).const(2).shl().set(cRow);

  /** acc = a[r0 .. r0+R) · b[:, c0 .. c0+4Q), stored to c. */
  const block = (R: number, Q: number): void => {
    for (let i = 0; i < R * Q; i++) {
      f.get(bias).ifElse(() => f.get(bias).get(c0).const(2).shl().add().loadAt((i % Q) * 16).set(acc[i]), () => f.const(0).simd(SIMD.i32x4Splat).set(acc[i]));
    }
    for (let r = 0; r < R; r++) f.get(r0).const(r).add().get(aRow).mul().get(ak).add().set(pa[r]);
    f.get(c0).const(2).shl().get(bk).add().set(pb);
    f.loop(kk, () => f.const(0), () => f.get(inner), () => {
      for (let q = 0; q < Q; q++) f.get(pb).loadAt(q * 16).set(bv[q]);
      for (let r = 0; r < R; r++) {
        f.get(pa[r]).load32Splat().set(av);
        for (let q = 0; q < Q; q++) {
          f.get(acc[r * Q + q]).get(av).get(bv[q]).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc[r * Q + q]);
        }
        f.get(pa[r]).const(4).add().set(pa[r]);
      }
      f.get(pb).get(bRow).add().set(pb);
    });
    for (let r = 0; r < R; r++) {
      for (let q = 0; q < Q; q++) {
        f.get(r0).const(r).add().get(cRow).mul().get(c0).const(2).shl().add().get(ck).add();
        f.get(acc[r * Q + q]).storeAt(q * 16);
      }
    }
  };
  const rowBlocks = (Q: number): void => {
    f.loop(r0, () => f.const(0), () => f.get(rows).const(rowsPerBlock - 1).sub(), () => block(rowsPerBlock, Q), rowsPerBlock);
    f.loop(r0, () => f.get(r0), () => f.get(rows), () => block(1, Q));
  };
  f.loop(k, () => f.const(0), () => f.get(batch), () => {
    f.get(k).get(rows).mul().get(aRow).mul().get(a).add().set(ak);
    f.get(k).get(inner).mul().get(bRow).mul().get(b).add().set(bk);
    f.get(k).get(rows).mul().get(cRow).mul().get(c).add().set(ck);
    f.loop(c0, () => f.const(0), () => f.get(cols).const(vecsPerBlock * 4 - 1).sub(), () => rowBlocks(vecsPerBlock), vecsPerBlock * 4);
    f.loop(c0, () => f.get(c0), () => f.get(cols), () => rowBlocks(1), 4);
  });
  return f;
}

/**
 * Argument lists of gemmBatched for `threads` threads: pieces over the batch when it is large, else over rows
 * in whole 4-row blocks (a split inside a block would run 1-row blocks, 4× slower per flop), else over columns
 * in whole 8-column blocks (few rows: every row piece would stream all of b). Byte addresses a, b, c, bias; b's
 * rows `ldb` floats apart (c's are cols apart).
 */
export function gemmPieces(
  a: number, b: number, c: number, batch: number, rows: number, inner: number, cols: number, bias: number, pieces: (count: number) => [number, number][],
  ldb = cols,
): number[][] {
  if (batch > 1) {
    return pieces(batch).map(([lo, hi]) => [a + lo * rows * inner * 4, b + lo * inner * ldb * 4, c + lo * rows * cols * 4, hi - lo, rows, inner, cols, bias, ldb, cols]);
  }
  const rowBlocks = Math.ceil(rows / 4);
  const byRows = pieces(rowBlocks);
  // Rows only when every piece gets two blocks or more.
  if (byRows.length > 1 && rowBlocks >= 2 * byRows.length) {
    return byRows.map(([lo, hi]) => {
      const [r0, r1] = [lo * 4, Math.min(rows, hi * 4)];
      return [a + r0 * inner * 4, b, c + r0 * cols * 4, 1, r1 - r0, inner, cols, bias, ldb, cols];
    });
  }
  const colBlocks = Math.floor(cols / 8);
  return pieces(Math.max(1, colBlocks)).map(([lo, hi]) => {
    const [c0, c1] = [lo * 8, hi === colBlocks ? cols : hi * 8];
    return [a, b + c0 * 4, c + c0 * 4, 1, rows, inner, c1 - c0, bias && bias + c0 * 4, ldb, cols];
  });
}

/** gemmBatched on byte addresses a, b, c and bias (0: none), split into gemmPieces across the kernel threads. */
export function runGemm(
  kernels: KernelModule, a: number, b: number, c: number, batch: number, rows: number, inner: number, cols: number, bias: number, ldb = cols,
): void {
  runPieces(kernels, 'gemmBatched', gemmPieces(a, b, c, batch, rows, inner, cols, bias, splitFor(kernels, batch * rows * inner * cols), ldb));
}
