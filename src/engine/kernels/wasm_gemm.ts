/**
 * A batched GEMM in wasm SIMD for Winograd's 36 channel contractions: one call does them all, where 36
 * backend matMuls cost a dispatch each (~5 µs on one thread, 35–60 µs through a 2-thread pool, more
 * when another process holds a core) and keep a packed copy of every weight matrix.
 */
import { FnBuilder, SIMD } from './wasm_asm';

/**
 * gemmBatched(a, b, c, batch, rows, inner, cols): c[k] = a[k] · b[k] for k < batch, with a [batch, rows,
 * inner], b [batch, inner, cols], c [batch, rows, cols] (cols a multiple of 4). Blocks of 4 rows × 8
 * columns keep 8 accumulators in registers (V8 has 16 on x64: 4 × 16 spills and runs at half the speed;
 * 4 × 8 measured 40–44 GFLOP/s on one thread, XNNPACK's matMul 28–34); edges use 1-row and 4-column blocks.
 */
export function gemmBatched(rowsPerBlock = 4, vecsPerBlock = 2): FnBuilder {
  const f = new FnBuilder('gemmBatched', 7);
  const [a, b, c, batch, rows, inner, cols] = [0, 1, 2, 3, 4, 5, 6];
  const [k, r0, c0, kk, ak, bk, ck, aRow, bRow, cRow, pb] = Array.from({ length: 11 }, () => f.i32());
  const pa = Array.from({ length: rowsPerBlock }, () => f.i32());
  const acc = Array.from({ length: rowsPerBlock * vecsPerBlock }, () => f.v128());
  const bv = Array.from({ length: vecsPerBlock }, () => f.v128());
  const av = f.v128();
  f.get(inner).const(2).shl().set(aRow);
  f.get(cols).const(2).shl().set(bRow);
  f.get(cols).const(2).shl().set(cRow);

  /** acc = a[r0 .. r0+R) · b[:, c0 .. c0+4Q), stored to c. */
  const block = (R: number, Q: number): void => {
    for (let i = 0; i < R * Q; i++) f.const(0).simd(SIMD.i32x4Splat).set(acc[i]);
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
