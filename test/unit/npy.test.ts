import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNpy, encodeNpy } from '../../src/shared/npy';

function headerOf(bytes: Uint8Array): string {
  const length = bytes[8] | (bytes[9] << 8);
  return String.fromCharCode(...bytes.subarray(0, 10 + length));
}

// Headers exactly as numpy 1.24 `np.save` writes them for float32 arrays of these shapes.
const NUMPY_HEADERS: Array<[number[], string]> = [
  [[2, 3, 4], "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }" + ' '.repeat(55) + '\n'],
  [[5], "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }" + ' '.repeat(60) + '\n'],
  [[224, 224, 3], "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (224, 224, 3), }" + ' '.repeat(51) + '\n'],
];

test('npy header is byte-identical to numpy.save and 64-byte aligned', () => {
  for (const [shape, expected] of NUMPY_HEADERS) {
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = encodeNpy(new Float32Array(count), shape);
    const header = headerOf(bytes);
    assert.equal(header, expected, `shape ${shape}`);
    assert.equal(header.length % 64, 0);
    assert.equal(bytes.length, header.length + count * 4);
  }
});

test('npy header padding stays aligned for long shapes', () => {
  for (const shape of [[123456789, 0], [1, 2, 3, 4, 5, 6, 7, 8], [], [0]]) {
    const bytes = encodeNpy(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    assert.equal(headerOf(bytes).length % 64, 0, `shape [${shape}]`);
    assert.ok(headerOf(bytes).endsWith('\n'));
  }
});

test('npy data is little-endian float32 in C order and round-trips', () => {
  const data = new Float32Array([1.5, -2, 0, 3.25e-8, Infinity, -0.125]);
  const bytes = encodeNpy(data, [2, 3]);
  const start = headerOf(bytes).length;
  assert.deepEqual([...bytes.subarray(start, start + 4)], [0x00, 0x00, 0xc0, 0x3f]); // 1.5f little-endian
  const back = decodeNpy(bytes);
  assert.deepEqual(back.shape, [2, 3]);
  assert.deepEqual([...back.data], [...data]);
  // A sliced view and a plain ArrayBuffer decode the same.
  assert.deepEqual([...decodeNpy(bytes.slice().buffer).data], [...data]);
});

test('npy encoder rejects a shape that does not match the data', () => {
  assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), /holds 6 values, data has 5/);
  assert.throws(() => encodeNpy(new Float32Array(0), [-1]), /bad dimension/);
});

test('npy decoder rejects other files and dtypes', () => {
  assert.throws(() => decodeNpy(new Uint8Array([1, 2, 3])), /not an .npy file/);
  const bytes = encodeNpy(new Float32Array(2), [2]);
  const f8 = bytes.slice();
  f8.set([..."'<f8'"].map((c) => c.charCodeAt(0)), headerOf(bytes).indexOf("'<f4'"));
  assert.throws(() => decodeNpy(f8), /unsupported dtype '<f8'/);
  assert.throws(() => decodeNpy(bytes.subarray(0, bytes.length - 1)), /truncated data/);
});
