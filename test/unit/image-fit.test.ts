import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RgbImage } from '../../src/engine/image/decode';
import { fitImage, planFit, resampleBytes } from '../../src/engine/image/fit';
import { isBadInput } from '../../src/shared/errors';

function image(width: number, height: number, colour: (x: number, y: number) => number[]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  return { width, height, data };
}

const at = (im: RgbImage, x: number, y: number) => [...im.data.subarray((y * im.width + x) * 3, (y * im.width + x) * 3 + 3)];

test('an image that already has the input size is returned unchanged (identity)', () => {
  const src = image(7, 5, (x, y) => [x * 30, y * 40, (x * y) % 256]);
  for (const mode of ['squash', 'center-crop'] as const) {
    const out = fitImage(src, 5, 7, mode);
    assert.equal(out.data, src.data, `${mode}: same bytes`);
    assert.deepEqual([out.width, out.height], [7, 5]);
  }
});

test('center-crop plans follow torchvision Resize(short side) + CenterCrop', () => {
  // Landscape: height to 224, width int(300*224/200) = 336, centred crop from 56.
  assert.deepEqual(planFit(300, 200, 224, 224, 'center-crop'), { scaledWidth: 336, scaledHeight: 224, left: 56, top: 0 });
  // Portrait with truncation: int(224*333/250) = 298, top offset round(74/2) = 37.
  assert.deepEqual(planFit(250, 333, 224, 224, 'center-crop'), { scaledWidth: 224, scaledHeight: 298, left: 0, top: 37 });
  // Python's round(0.5) is 0 and round(1.5) is 2: halves go to even.
  assert.equal(planFit(7, 4, 2, 2, 'center-crop').left, 0); // scaled 3×2, (3-2)/2 = 0.5
  assert.equal(planFit(10, 4, 2, 2, 'center-crop').left, 2); // scaled 5×2, (5-2)/2 = 1.5
  // Non-square target: scale so the image covers 100×50 (H×W), then crop.
  assert.deepEqual(planFit(100, 100, 50, 100, 'center-crop'), { scaledWidth: 100, scaledHeight: 100, left: 25, top: 0 });
  assert.deepEqual(planFit(300, 200, 224, 224, 'squash'), { scaledWidth: 224, scaledHeight: 224, left: 0, top: 0 });
});

test('center-crop keeps the middle, squash keeps everything', () => {
  // 40×20: red left fifth, green middle, blue right fifth; the crop (source columns 10–29, with the
  // filter reaching two source pixels further) sees only green.
  const src = image(40, 20, (x) => (x < 8 ? [255, 0, 0] : x < 32 ? [0, 255, 0] : [0, 0, 255]));
  const cropped = fitImage(src, 10, 10, 'center-crop');
  assert.deepEqual([cropped.width, cropped.height], [10, 10]);
  for (let x = 0; x < 10; x++) assert.deepEqual(at(cropped, x, 5), [0, 255, 0], `crop column ${x}`);
  const squashed = fitImage(src, 10, 10, 'squash');
  assert.deepEqual(at(squashed, 0, 5), [255, 0, 0]);
  assert.deepEqual(at(squashed, 5, 5), [0, 255, 0]);
  assert.deepEqual(at(squashed, 9, 5), [0, 0, 255]);
});

test('downscaling is antialiased: a fine checkerboard averages to gray', () => {
  const board = image(64, 64, (x, y) => ((x + y) % 2 ? [255, 255, 255] : [0, 0, 0]));
  const small = fitImage(board, 8, 8, 'squash');
  for (let i = 0; i < small.data.length; i++) assert.ok(Math.abs(small.data[i] - 127.5) <= 1, `value ${small.data[i]}`);
});

test('resampling keeps constants and interpolates ramps linearly', () => {
  const flat = image(13, 9, () => [10, 200, 77]);
  const resized = fitImage(flat, 20, 31, 'squash');
  for (let i = 0; i < resized.data.length; i += 3) assert.deepEqual([...resized.data.subarray(i, i + 3)], [10, 200, 77]);
  // Upscaling [0, 100] by 2 with half-pixel centres: 0, 25, 75, 100.
  assert.deepEqual([...resampleBytes(new Uint8Array([0, 100]), 2, 1, 1, 4, 1)], [0, 25, 75, 100]);
  // Downscaling by 2 widens the triangle to 4 source pixels, as PIL's BILINEAR does:
  // (0·.75 + 100·.75 + 200·.25) / 1.75 = 71.4 and (100·.25 + 200·.75 + 40·.75) / 1.75 = 117.1.
  assert.deepEqual([...resampleBytes(new Uint8Array([0, 100, 200, 40]), 4, 1, 1, 2, 1)], [71, 117]);
});

test('bad sizes and modes are rejected', () => {
  const src = image(4, 4, () => [0, 0, 0]);
  assert.throws(() => fitImage(src, 0, 4, 'squash'), (e: unknown) => isBadInput(e) && /positive integers/.test(e.message));
  assert.throws(() => fitImage(src, 4, 4.5, 'squash'), (e: unknown) => isBadInput(e));
  assert.throws(() => fitImage(src, 3, 3, 'stretch' as never), (e: unknown) => isBadInput(e) && /unknown mode "stretch"/.test(e.message));
});
