// Median time of ResNet-18's GEMMs (batch 1 vanilla pass: Winograd products, then im2col ones) on our wasm SIMD
// GEMM (one thread) and on the native AVX-512 one (one and two threads), on the same shared wasm memory the
// engine uses. Run by run.sh after building build/gemm.node.
import { createRequire } from 'node:module';
import { assemble } from '../../src/engine/kernels/wasm_asm';
import { gemmBatched } from '../../src/engine/kernels/wasm_gemm';

const native = createRequire(__filename)('./build/gemm.node') as {
  gemm: (a: Float32Array, b: Float32Array, c: Float32Array, batch: number, rows: number, inner: number, cols: number, threads: number) => void;
};
// The compiler's lib (no DOM) does not declare WebAssembly.
const webAssembly = (globalThis as unknown as {
  WebAssembly: {
    Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer };
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: unknown };
  };
}).WebAssembly;
const memory = new webAssembly.Memory({ initial: 4000, maximum: 16000, shared: true });
const wasm = new webAssembly.Instance(new webAssembly.Module(assemble([gemmBatched()], true)), { env: { memory } }).exports as {
  gemmBatched: (...args: number[]) => void;
};
const SHAPES = [[36, 196, 64, 64], [36, 49, 128, 128], [36, 16, 256, 256], [16, 16, 512, 512], [1, 12544, 160, 64], [1, 49, 2304, 512]];

function median(run: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < 31; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  return times.sort((x, y) => x - y)[15];
}

console.log('| batch × rows × inner × cols | wasm 1 thread | native 1 thread | native 2 threads |\n| --- | --- | --- | --- |');
for (const [batch, rows, inner, cols] of SHAPES) {
  const heap = new Float32Array(memory.buffer);
  const [na, nb, nc] = [batch * rows * inner, batch * inner * cols, batch * rows * cols];
  const a = heap.subarray(16, 16 + na);
  const b = heap.subarray(16 + na, 16 + na + nb);
  const c = heap.subarray(16 + na + nb, 16 + na + nb + nc);
  a.forEach((_, i) => (a[i] = Math.sin(i)));
  b.forEach((_, i) => (b[i] = Math.cos(i)));
  const gflop = (2 * batch * rows * inner * cols) / 1e6;
  const cell = (ms: number): string => `${ms.toFixed(2)} ms, ${(gflop / ms).toFixed(0)} GFLOP/s`;
  const ours = median(() => wasm.gemmBatched(a.byteOffset, b.byteOffset, c.byteOffset, batch, rows, inner, cols, 0, cols, cols));
  const want = Float32Array.from(c);
  const one = median(() => native.gemm(a, b, c, batch, rows, inner, cols, 1));
  const two = median(() => native.gemm(a, b, c, batch, rows, inner, cols, 2));
  const worst = c.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]) / (1 + Math.abs(want[i]))), 0);
  if (worst > 1e-4) throw new Error(`native and wasm products differ by ${worst} at ${batch}×${rows}×${inner}×${cols}`);
  console.log(`| ${batch} × ${rows} × ${inner} × ${cols} | ${cell(ours)} | ${cell(one)} | ${cell(two)} |`);
}
