/** ONNX → IR converters of shape ops on activations (Reshape, Flatten, Transpose, Squeeze, Slice, Split, ...). */
import { BATCH, intConst, sliceRange } from './onnxConst';
import {
  type Activation, type Attrs, type Dim, dimProduct, identityPerm, isIdentity, OnnxConverter, reshapeTarget,
} from './onnxConverter';
import type { OpConverter } from './onnxOpsNn';
import { numel } from './onnxTensors';

const normAxes = (axes: number[], rank: number) => axes.map((a) => (a < 0 ? a + rank : a));

/** Axes from the attribute (before `inputFrom`) or input 1 (from `inputFrom` on). */
function axesOf(cx: OnnxConverter, at: Attrs, inputFrom: number): number[] | undefined {
  return cx.opset >= inputFrom ? cx.ints(1, 'axes') : at.ints('axes');
}

/** Emits a reshape of `x` to ONNX shape `shape` (plain layout), or aliases when nothing changes. */
function reshapeTo(cx: OnnxConverter, x: Activation, shape: Dim[], suffix?: string): Activation {
  if (isIdentity(x.perm) && shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i] && d !== null)) {
    return x;
  }
  const target = reshapeTarget(shape);
  if (!target) cx.fail(`cannot reshape to [${shape.join(', ')}]: more than one size depends on the batch`);
  const ref = cx.emit('reshape', [cx.sourceOrder(x)], { shape: target }, {}, suffix);
  return OnnxConverter.act(ref, shape, identityPerm(shape.length));
}

const alias: OpConverter = (cx: OnnxConverter) => {
  cx.output(cx.act(0));
};

const dropout: OpConverter = (cx: OnnxConverter) => {
  cx.requireUnused(1, 'mask');
  cx.output(cx.act(0));
};

const cast: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const to = at.int('to', 1);
  if (to !== 1 && to !== 10 && to !== 11 && to !== 16) cx.fail('only casts of activations to floating point are supported');
  cx.output(cx.act(0));
};

const shape: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const dims = x.shape.slice(clamp(at.int('start', 0)), clamp(at.int('end', rank)));
  if (dims.some((d) => d === null)) cx.fail('the shape is not known at load time');
  cx.output({ kind: 'const', t: intConst(dims.map((d) => (d === 'N' ? BATCH : (d as number)))) });
};

const flatten: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  const a = at.int('axis', 1);
  const axis = a < 0 ? a + rank : a;
  cx.output(reshapeTo(cx, x, [dimProduct(x.shape.slice(0, axis)), dimProduct(x.shape.slice(axis))]));
};

/** The ONNX output shape of Reshape, resolving 0 (copy), -1 (infer) and the batch size. */
function reshapeDims(cx: OnnxConverter, input: readonly Dim[], target: number[], allowZero: boolean): Dim[] {
  const out: Dim[] = target.map((t, i) => {
    if (t === BATCH) return 'N';
    if (t === 0 && !allowZero) {
      if (i >= input.length) cx.fail('a 0 in the shape refers to a missing input dimension');
      return input[i];
    }
    return t;
  });
  // A model exported with a fixed batch size B reshapes to [B, ...]: keep that axis the (dynamic) batch.
  if (input[0] === 'N' && cx.staticBatch !== null && out[0] === cx.staticBatch && !out.includes('N')) out[0] = 'N';
  const inferAt = out.indexOf(-1);
  if (out.filter((d) => d === -1).length > 1) cx.fail('more than one -1 in the shape');
  const known = out.filter((d): d is number => typeof d === 'number' && d !== -1).reduce((p, d) => p * d, 1);
  const inBatch = input.filter((d) => d === 'N').length;
  const inKnown = input.filter((d): d is number => typeof d === 'number').reduce((p, d) => p * d, 1);
  if (input.some((d) => d === null) || inBatch > 1) {
    if (inferAt >= 0) out[inferAt] = null;
    return out;
  }
  const outBatch = out.filter((d) => d === 'N').length;
  if (inferAt >= 0) {
    if (known === 0 || inKnown % known !== 0) cx.fail(`cannot reshape ${inKnown} elements into [${target.join(', ')}]`);
    const rest = inKnown / known;
    out[inferAt] = inBatch === outBatch ? rest : rest === 1 ? 'N' : null;
  } else if (inBatch === outBatch && known !== inKnown) {
    cx.fail(`cannot reshape [${input.join(', ')}] into [${target.join(', ')}]`);
  }
  return out;
}

const reshape: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const t = cx.constant(1, 'the target shape');
  if (!t) cx.fail('the target shape is required');
  cx.output(reshapeTo(cx, x, reshapeDims(cx, x.shape, Array.from(t.data), at.int('allowzero', 0) === 1)));
};

const transpose: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  const p = at.ints('perm') ?? identityPerm(rank).reverse();
  const inverse = new Array<number>(rank);
  p.forEach((src, dst) => (inverse[src] = dst));
  // No data moves: the IR tensor stays as it is and only the recorded layout changes.
  cx.output(OnnxConverter.act(x.ref, p.map((k) => x.shape[k]), x.perm.map((q) => inverse[q])));
};

const squeeze: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  const given = axesOf(cx, at, 13);
  const axes = given ? normAxes(given, rank) : identityPerm(rank).filter((a) => x.shape[a] === 1);
  if (axes.some((a) => x.shape[a] !== 1)) cx.fail('squeezing an axis whose size is not 1');
  const kept = identityPerm(rank).filter((a) => !axes.includes(a));
  const internalAxes = axes.map((a) => x.perm.indexOf(a)).sort((a, b) => a - b);
  const ref = cx.emit('squeeze', [x.ref], { axes: internalAxes });
  const perm = x.perm.filter((q) => kept.includes(q)).map((q) => kept.indexOf(q));
  cx.output(OnnxConverter.act(ref, kept.map((a) => x.shape[a]), perm));
};

const unsqueeze: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const given = axesOf(cx, at, 13);
  if (!given) cx.fail('axes are required');
  const outRank = x.shape.length + given.length;
  const axes = normAxes(given, outRank);
  const old = identityPerm(outRank).filter((a) => !axes.includes(a));
  const shape: Dim[] = identityPerm(outRank).map((a) => (axes.includes(a) ? 1 : x.shape[old.indexOf(a)]));
  if (isIdentity(x.perm)) {
    cx.output(reshapeTo(cx, x, shape));
    return;
  }
  // Keep the existing internal order and append the new unit axes at the end.
  const perm = [...x.perm.map((q) => old[q]), ...axes];
  const target = reshapeTarget(perm.map((p) => shape[p]));
  if (!target) cx.fail('more than one size depends on the batch');
  cx.output(OnnxConverter.act(cx.emit('reshape', [x.ref], { shape: target }), shape, perm));
};

/** Slice (opset 10+: inputs; before: attributes) with positive steps. */
const slice: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  const legacy = cx.opset < 10;
  const starts = legacy ? at.ints('starts') : cx.ints(1, 'starts');
  const ends = legacy ? at.ints('ends') : cx.ints(2, 'ends');
  if (!starts || !ends) cx.fail('starts and ends are required');
  const axes = normAxes((legacy ? at.ints('axes') : cx.ints(3, 'axes')) ?? identityPerm(starts.length), rank);
  const steps = (legacy ? undefined : cx.ints(4, 'steps')) ?? starts.map(() => 1);
  const begin = new Array<number>(rank).fill(0);
  const size = new Array<number>(rank).fill(-1);
  const strides = new Array<number>(rank).fill(1);
  const shape = [...x.shape];
  axes.forEach((a, i) => {
    if (steps[i] <= 0) cx.fail('only positive slice steps are supported');
    const d = x.shape[a];
    if (typeof d !== 'number') {
      if (starts[i] === 0 && ends[i] >= 2 ** 31 - 1 && steps[i] === 1) return;
      cx.fail('slicing an axis of dynamic size is not supported');
    }
    const r = sliceRange(d, starts[i], ends[i], steps[i]);
    if (r.count === 0) cx.fail('empty slices are not supported');
    const k = x.perm.indexOf(a);
    begin[k] = r.start;
    size[k] = (r.count - 1) * steps[i] + 1;
    strides[k] = steps[i];
    shape[a] = r.count;
  });
  const attrs = strides.some((s) => s !== 1) ? { begin, size, strides } : { begin, size };
  cx.output(OnnxConverter.act(cx.emit('slice', [x.ref], attrs), shape, x.perm));
};

/** Gather on an activation with a constant index (scalar) or a run of consecutive indices. */
const gather: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const idx = cx.constant(1, 'the indices');
  if (!idx) cx.fail('indices are required');
  const rank = x.shape.length;
  const axis = normAxes([at.int('axis', 0)], rank)[0];
  const d = x.shape[axis];
  if (typeof d !== 'number') cx.fail('gathering along an axis of dynamic size is not supported');
  const values = Array.from(idx.data, (i) => (i < 0 ? i + d : i));
  if (values.some((v, i) => v < 0 || v >= d || (i > 0 && v !== values[i - 1] + 1))) {
    cx.fail('only in-range, consecutive gather indices are supported');
  }
  const k = x.perm.indexOf(axis);
  const begin = new Array<number>(rank).fill(0);
  const size = new Array<number>(rank).fill(-1);
  begin[k] = values[0];
  size[k] = values.length;
  const scalarIndex = idx.dims.length === 0;
  const sliced = cx.emit('slice', [x.ref], { begin, size }, {}, scalarIndex ? 'slice' : undefined);
  const shape = [...x.shape];
  shape[axis] = values.length;
  if (!scalarIndex) {
    if (idx.dims.length !== 1) cx.fail('only scalar or 1-D gather indices are supported');
    cx.output(OnnxConverter.act(sliced, shape, x.perm));
    return;
  }
  const kept = identityPerm(rank).filter((a) => a !== axis);
  const perm = x.perm.filter((q) => q !== axis).map((q) => kept.indexOf(q));
  cx.output(OnnxConverter.act(cx.emit('squeeze', [sliced], { axes: [k] }), kept.map((a) => shape[a]), perm));
};

/** Expand of an activation: a multiplication by ones of the target shape (a broadcast in one op). */
const expand: OpConverter = (cx: OnnxConverter) => {
  const x = cx.act(0);
  const target = cx.ints(1, 'the shape');
  if (!target) cx.fail('the shape is required');
  const rank = Math.max(x.shape.length, target.length);
  const shape: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const a = x.shape[x.shape.length - rank + i] ?? 1;
    const b = target[target.length - rank + i] ?? 1;
    shape.push(b === 1 ? a : b);
  }
  if (shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i])) {
    cx.output(x);
    return;
  }
  if (shape.length !== x.shape.length || shape.some((d) => typeof d !== 'number')) cx.fail('unsupported Expand');
  const dims = shape as number[];
  const ones = { kind: 'float' as const, dims, data: new Float32Array(numel(dims)).fill(1) };
  const onesRef = cx.constFor(ones, rank, x.perm, 'ones');
  cx.output(OnnxConverter.act(cx.emit('mul', [x.ref, onesRef]), shape, x.perm));
};

/** The part sizes of Split: an attribute (opset < 13), input 1, `num_outputs` (opset 18), else equal parts. */
function splitSizes(cx: OnnxConverter, at: Attrs, size: number): number[] {
  const outputs = cx.node.output.length;
  const given = cx.opset >= 13 ? cx.ints(1, 'split') : at.ints('split');
  if (given && given.length > 0) {
    if (given.length !== outputs) cx.fail(`${given.length} split sizes for ${outputs} outputs`);
    if (given.some((s) => s < 1) || given.reduce((a, b) => a + b, 0) !== size) {
      cx.fail(`split sizes [${given.join(', ')}] do not add up to the axis size ${size}`);
    }
    return given;
  }
  const parts = cx.opset >= 18 && at.has('num_outputs') ? at.int('num_outputs', outputs) : outputs;
  if (parts !== outputs) cx.fail(`num_outputs is ${parts} but the node has ${outputs} outputs`);
  // Opset 18 lets the last part be smaller; before it the axis must divide evenly.
  const chunk = cx.opset >= 18 ? Math.ceil(size / parts) : size / parts;
  const last = size - chunk * (parts - 1);
  if (!Number.isInteger(chunk) || last < 1) cx.fail(`an axis of size ${size} cannot be split into ${parts} parts`);
  return [...new Array<number>(parts - 1).fill(chunk), last];
}

/** Split of an activation: one slice per output, along the axis wherever the layout put it. */
const split: OpConverter = (cx: OnnxConverter, at: Attrs) => {
  const x = cx.act(0);
  const rank = x.shape.length;
  const axis = normAxes([at.int('axis', 0)], rank)[0];
  if (axis < 0 || axis >= rank) cx.fail(`axis ${at.int('axis', 0)} is out of range for a rank-${rank} input`);
  const d = x.shape[axis];
  if (typeof d !== 'number') cx.fail('splitting an axis of dynamic size is not supported');
  const sizes = splitSizes(cx, at, d);
  const k = x.perm.indexOf(axis);
  let start = 0;
  sizes.forEach((n, i) => {
    const begin = new Array<number>(rank).fill(0);
    const size = new Array<number>(rank).fill(-1);
    begin[k] = start;
    size[k] = n;
    start += n;
    const name = cx.node.output[i];
    if (!name || (cx.consumers.get(name) ?? 0) === 0) return;
    const ref = cx.emit('slice', [x.ref], { begin, size }, {}, i === 0 ? undefined : `output${i}`);
    cx.output(OnnxConverter.act(ref, x.shape.map((dim, a) => (a === axis ? n : dim)), x.perm), i);
  });
};

/** Converters of shape ops on activations, by ONNX op type. */
export const SHAPE_OPS: Record<string, OpConverter> = {
  Identity: alias,
  Dropout: dropout,
  Cast: cast,
  Shape: shape,
  Flatten: flatten,
  Reshape: reshape,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Slice: slice,
  Gather: gather,
  Expand: expand,
  Split: split,
};

/** Exposed for the constant folder, which shares the Reshape rules. */
export { reshapeDims };
