/** Load-time arithmetic on ONNX constants: layout changes, broadcasting and the shape-op folding kernels. */
import { type ConstTensor, numel } from './onnxTensors';

/**
 * Marks the batch dimension inside folded shape vectors (the value of Shape(x)[0] when the batch is dynamic),
 * so that Shape→Gather→Concat→Reshape chains can be folded without fixing the batch size.
 */
export const BATCH = -(2 ** 50);

/** Row-major strides of a shape. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** A tensor of the same kind with new data. */
function like(t: ConstTensor, dims: number[], data: Float32Array | Float64Array): ConstTensor {
  return { kind: t.kind, dims, data };
}

function alloc(t: ConstTensor, n: number): Float32Array | Float64Array {
  return t.kind === 'float' ? new Float32Array(n) : new Float64Array(n);
}

/** Side of the square blocks in which transposeConst moves an input's first axis to the end. */
const TRANSPOSE_BLOCK = 32;

/**
 * The transpose of a constant whose first axis becomes the output's last (ONNX conv kernels OIHW → HWIO,
 * Gemm's transB): the input as a matrix [first axis, the rest], copied in square blocks so that both the
 * strided reads and the writes stay in cache (element by element it read one cache line per float).
 */
function transposeFirstToLast(t: ConstTensor, perm: readonly number[], outDims: number[]): ConstTensor {
  const rows = t.dims[0];
  const cols = t.data.length / rows;
  // Where each column of the input matrix starts in the output: its index over the output's leading axes.
  const outStrides = stridesOf(outDims);
  const strideOfInAxis = new Array<number>(t.dims.length).fill(0);
  perm.forEach((p, i) => (strideOfInAxis[p] = outStrides[i]));
  const dstOf = new Int32Array(cols);
  const idx = new Array<number>(t.dims.length).fill(0);
  for (let j = 0, dst = 0; j < cols; j++) {
    dstOf[j] = dst;
    for (let a = t.dims.length - 1; a >= 1; a--) {
      idx[a]++;
      dst += strideOfInAxis[a];
      if (idx[a] < t.dims[a]) break;
      dst -= strideOfInAxis[a] * t.dims[a];
      idx[a] = 0;
    }
  }
  const out = alloc(t, t.data.length);
  const src = t.data;
  for (let j0 = 0; j0 < cols; j0 += TRANSPOSE_BLOCK) {
    const j1 = Math.min(cols, j0 + TRANSPOSE_BLOCK);
    for (let o0 = 0; o0 < rows; o0 += TRANSPOSE_BLOCK) {
      const o1 = Math.min(rows, o0 + TRANSPOSE_BLOCK);
      for (let j = j0; j < j1; j++) {
        const d = dstOf[j];
        for (let o = o0; o < o1; o++) out[d + o] = src[o * cols + j];
      }
    }
  }
  return like(t, outDims, out);
}

/** Transposes a constant: output axis i is input axis perm[i]. */
export function transposeConst(t: ConstTensor, perm: readonly number[]): ConstTensor {
  if (perm.every((p, i) => p === i)) return t;
  const outDims = perm.map((p) => t.dims[p]);
  const rank = outDims.length;
  if (perm[rank - 1] === 0 && t.dims[0] > 1 && t.data.length > 0) return transposeFirstToLast(t, perm, outDims);
  const inStrides = stridesOf(t.dims);
  const stepIn = perm.map((p) => inStrides[p]);
  const out = alloc(t, t.data.length);
  const inner = outDims[rank - 1];
  const innerStep = stepIn[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  // Odometer over all but the last output axis; the last axis is a tight strided copy.
  for (let o = 0; o < out.length; o += inner) {
    for (let k = 0, s = src; k < inner; k++, s += innerStep) out[o + k] = t.data[s];
    for (let a = rank - 2; a >= 0; a--) {
      idx[a]++;
      src += stepIn[a];
      if (idx[a] < outDims[a]) break;
      src -= stepIn[a] * outDims[a];
      idx[a] = 0;
    }
  }
  return like(t, outDims, out);
}

/** The broadcast shape of two shapes (numpy rules), or null if incompatible. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Materialises `t` broadcast to `dims`. */
export function broadcastTo(t: ConstTensor, dims: readonly number[]): ConstTensor {
  if (t.dims.length === dims.length && t.dims.every((d, i) => d === dims[i])) return t;
  const padded = [...new Array<number>(dims.length - t.dims.length).fill(1), ...t.dims];
  const inStrides = stridesOf(padded).map((s, i) => (padded[i] === 1 ? 0 : s));
  return like(t, [...dims], gatherAffine(t, dims, 0, inStrides));
}

/** An elementwise binary op on constants with numpy broadcasting. */
export function binaryConst(a: ConstTensor, b: ConstTensor, f: (x: number, y: number) => number): ConstTensor | null {
  const dims = broadcastShape(a.dims, b.dims);
  if (!dims) return null;
  const x = broadcastTo(a, dims);
  const y = broadcastTo(b, dims);
  const kind = a.kind === 'float' || b.kind === 'float' ? 'float' : 'int';
  const out = kind === 'float' ? new Float32Array(numel(dims)) : new Float64Array(numel(dims));
  for (let i = 0; i < out.length; i++) out[i] = f(x.data[i], y.data[i]);
  return { kind, dims, data: out };
}

/**
 * Reshapes and permutes a constant operand so that it broadcasts against an activation of the given ONNX
 * rank stored with `perm` (internal axis i holds ONNX axis perm[i]). Leading size-1 axes are dropped.
 */
export function constForLayout(t: ConstTensor, rank: number, perm: readonly number[]): ConstTensor | null {
  if (t.dims.length > rank) return null;
  const padded = [...new Array<number>(rank - t.dims.length).fill(1), ...t.dims];
  const moved = transposeConst({ ...t, dims: padded }, perm);
  let start = 0;
  while (start < moved.dims.length - 1 && moved.dims[start] === 1) start++;
  return { ...moved, dims: moved.dims.slice(start) };
}

/** Gather along one axis with (possibly negative) integer indices. */
export function gatherConst(t: ConstTensor, indices: ConstTensor, axis: number): ConstTensor {
  const before = t.dims.slice(0, axis);
  const after = t.dims.slice(axis + 1);
  const inner = numel(after);
  const outer = numel(before);
  const n = t.dims[axis];
  const idx = Array.from(indices.data, (i) => (i < 0 ? i + n : i));
  if (idx.some((i) => i < 0 || i >= n)) throw new RangeError(`Gather index out of range for axis of size ${n}`);
  const out = alloc(t, outer * idx.length * inner);
  let o = 0;
  for (let b = 0; b < outer; b++) {
    for (const i of idx) {
      const src = (b * n + i) * inner;
      for (let k = 0; k < inner; k++) out[o++] = t.data[src + k];
    }
  }
  return like(t, [...before, ...indices.dims, ...after], out);
}

/** Normalised slice parameters for one axis of size `size` (ONNX clamping rules). */
export function sliceRange(size: number, start: number, end: number, step: number): { start: number; count: number } {
  const clampStart = (v: number) => {
    const x = v < 0 ? v + size : v;
    return step > 0 ? Math.min(Math.max(x, 0), size) : Math.min(Math.max(x, -1), size - 1);
  };
  const s = clampStart(start);
  const e = clampStart(end);
  const count = step > 0 ? Math.max(0, Math.ceil((e - s) / step)) : Math.max(0, Math.ceil((s - e) / -step));
  return { start: s, count };
}

/** Strided slice of a constant: per axis start, count and step. */
export function sliceConst(t: ConstTensor, ranges: Array<{ start: number; count: number; step: number }>): ConstTensor {
  const dims = ranges.map((r) => r.count);
  const inStrides = stridesOf(t.dims);
  const base = ranges.reduce((sum, r, a) => sum + r.start * inStrides[a], 0);
  return like(t, dims, gatherAffine(t, dims, base, ranges.map((r, a) => r.step * inStrides[a])));
}

/** Output element o (in `dims`) reads t.data[base + Σₐ iₐ·strides[a]], iₐ its index along axis a. */
function gatherAffine(t: ConstTensor, dims: readonly number[], base: number, strides: readonly number[]): Float32Array | Float64Array {
  const outStrides = stridesOf(dims);
  const out = alloc(t, numel(dims));
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    let src = base;
    for (let a = 0; a < dims.length; a++) {
      const i = Math.floor(rem / outStrides[a]);
      rem -= i * outStrides[a];
      src += i * strides[a];
    }
    out[o] = t.data[src];
  }
  return out;
}

/** Concatenation of constants along an axis. */
export function concatConst(parts: ConstTensor[], axis: number): ConstTensor {
  const first = parts[0];
  const outer = numel(first.dims.slice(0, axis));
  const dims = [...first.dims];
  dims[axis] = parts.reduce((s, p) => s + p.dims[axis], 0);
  const kind = parts.some((p) => p.kind === 'float') ? 'float' : 'int';
  const out = kind === 'float' ? new Float32Array(numel(dims)) : new Float64Array(numel(dims));
  let o = 0;
  for (let b = 0; b < outer; b++) {
    for (const p of parts) {
      const chunk = numel(p.dims.slice(axis));
      for (let k = 0; k < chunk; k++) out[o++] = p.data[b * chunk + k];
    }
  }
  return { kind, dims, data: out };
}

/** A scalar or vector constant from numbers. */
export function intConst(values: number[], dims: number[] = [values.length]): ConstTensor {
  return { kind: 'int', dims, data: Float64Array.from(values) };
}

/** A float constant. */
export function floatConst(values: ArrayLike<number>, dims: number[]): ConstTensor {
  return { kind: 'float', dims, data: Float32Array.from(values) };
}

/** Converts a constant to float32 (or to integers, truncating like ONNX Cast). */
export function castConst(t: ConstTensor, kind: 'float' | 'int'): ConstTensor {
  if (t.kind === kind) return t;
  return kind === 'float'
    ? { kind, dims: t.dims, data: Float32Array.from(t.data) }
    : { kind, dims: t.dims, data: Float64Array.from(t.data, (v) => Math.trunc(v)) };
}
