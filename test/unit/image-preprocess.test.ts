import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deprocess, parsePreprocess, preprocessImage } from '../../src/engine/image/preprocess';
import { PREPROCESS_PRESETS } from '../../src/shared/protocol';
import { isBadInput } from '../../src/shared/errors';

/** Two pixels: (255, 128, 0) and (10, 20, 30). */
const pixels = { width: 2, height: 1, data: new Uint8Array([255, 128, 0, 10, 20, 30]) };

function close(actual: Float32Array, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) < 1e-5, `${what}[${i}]: ${actual[i]} vs ${e}`));
}

test('each preset maps pixels to the documented values (NHWC, RGB)', () => {
  close(preprocessImage(pixels, 'unit', 3), [1, 128 / 255, 0, 10 / 255, 20 / 255, 30 / 255], 'unit');
  close(preprocessImage(pixels, 'symmetric', 3), [1, 128 / 127.5 - 1, -1, 10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1], 'symmetric');
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const imagenet = [255, 128, 0, 10, 20, 30].map((p, i) => (p / 255 - mean[i % 3]) / std[i % 3]);
  close(preprocessImage(pixels, 'imagenet', 3), imagenet, 'imagenet');
  close(preprocessImage(pixels, 'raw', 3), [255, 128, 0, 10, 20, 30], 'raw');
});

test('caffe swaps to BGR and subtracts the BGR means on 0–255', () => {
  close(preprocessImage(pixels, 'caffe', 3), [
    0 - 103.939, 128 - 116.779, 255 - 123.68,
    30 - 103.939, 20 - 116.779, 10 - 123.68,
  ], 'caffe');
});

test('one-channel models get BT.601 luminance with averaged statistics', () => {
  const luma = [0.299 * 255 + 0.587 * 128, 0.299 * 10 + 0.587 * 20 + 0.114 * 30];
  close(preprocessImage(pixels, 'unit', 1), luma.map((l) => l / 255), 'unit gray');
  close(preprocessImage(pixels, 'raw', 1), luma, 'raw gray');
  const m = (0.485 + 0.456 + 0.406) / 3;
  const s = (0.229 + 0.224 + 0.225) / 3;
  close(preprocessImage(pixels, 'imagenet', 1), luma.map((l) => (l / 255 - m) / s), 'imagenet gray');
  close(preprocessImage(pixels, 'caffe', 1), luma.map((l) => l - (103.939 + 116.779 + 123.68) / 3), 'caffe gray');
});

test('deprocess inverts every preset exactly on 8-bit pixels', () => {
  const all = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).map((_, i) => (i * 7) % 256) };
  for (const preset of PREPROCESS_PRESETS) {
    const values = preprocessImage(all, preset, 3);
    assert.deepEqual(deprocess(values, 16, 16, preset, 3).data, all.data, preset);
    const gray = deprocess(preprocessImage(all, preset, 1), 16, 16, preset, 1);
    for (let i = 0; i < gray.data.length; i += 3) assert.ok(gray.data[i] === gray.data[i + 1] && gray.data[i] === gray.data[i + 2], `${preset} gray`);
  }
});

test('unknown presets and channel counts are bad input', () => {
  assert.equal(parsePreprocess('caffe', '--preprocess'), 'caffe');
  assert.throws(() => parsePreprocess('torch', '--preprocess'), (e: unknown) => isBadInput(e) && e.message.startsWith('--preprocess: unknown preprocessing "torch"'));
  assert.throws(() => preprocessImage(pixels, 'unit', 4), (e: unknown) => isBadInput(e) && /4 channels/.test(e.message));
});
