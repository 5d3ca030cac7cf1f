/** Load-time transposes of ONNX constants against an element-by-element reference. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stridesOf, transposeConst } from '../../src/engine/importers/onnxConst';
import type { ConstTensor } from '../../src/engine/importers/onnxTensors';

/** out[i0..] = in[perm-indexed], one element at a time. */
function naiveTranspose(t: ConstTensor, perm: number[]): number[] {
  const outDims = perm.map((p) => t.dims[p]);
  const inStrides = stridesOf(t.dims);
  const n = t.data.length;
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    let rest = k;
    let src = 0;
    for (let a = outDims.length - 1; a >= 0; a--) {
      src += (rest % outDims[a]) * inStrides[perm[a]];
      rest = Math.floor(rest / outDims[a]);
    }
    out.push(t.data[src]);
  }
  return out;
}

function counting(dims: number[], kind: 'float' | 'int' = 'float'): ConstTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = kind === 'float' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = i;
  return { kind, dims, data } as ConstTensor;
}

describe('transposeConst', () => {
  const cases: Array<[number[], number[]]> = [
    [[70, 45, 3, 3], [2, 3, 1, 0]], // a conv kernel OIHW → HWIO, blocks with ragged edges
    [[33, 65], [1, 0]], // Gemm's transB
    [[5, 4, 3, 2], [3, 0, 1, 2]],
    [[40, 2, 37], [2, 1, 0]],
    [[1, 8, 3], [2, 1, 0]],
    [[6, 5, 4], [0, 2, 1]],
    [[2, 3, 4, 5], [0, 2, 3, 1]],
  ];
  for (const [dims, perm] of cases) {
    it(`moves [${dims}] by [${perm}] as the reference does`, () => {
      const t = counting(dims);
      const got = transposeConst(t, perm);
      assert.deepEqual(got.dims, perm.map((p) => dims[p]));
      assert.deepEqual(Array.from(got.data), naiveTranspose(t, perm));
    });
  }
  it('keeps the kind of an integer constant', () => {
    const got = transposeConst(counting([9, 7], 'int'), [1, 0]);
    assert.ok(got.data instanceof Float64Array);
    assert.deepEqual(Array.from(got.data), naiveTranspose(counting([9, 7], 'int'), [1, 0]));
  });
});
