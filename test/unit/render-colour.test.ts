import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colormapLut, lutIndex } from '../../src/shared/render/colormaps';
import { colorize, overlay, parseAlpha, renderPanels, sideBySide } from '../../src/shared/render/compose';
import { filledRgba, rgbToRgba } from '../../src/shared/render/types';
import { COLORMAPS } from '../../src/shared/protocol';
import { isBadInput } from '../../src/shared/errors';

const entry = (lut: Uint8Array, i: number) => [...lut.subarray(i * 3, i * 3 + 3)];
const luminance = (rgb: number[]) => 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];

test('colour maps are 256-entry LUTs with the expected ends', () => {
  for (const name of COLORMAPS) assert.equal(colormapLut(name).length, 768, name);
  assert.deepEqual(entry(colormapLut('viridis'), 0), [68, 1, 84]);
  assert.deepEqual(entry(colormapLut('viridis'), 255), [253, 231, 37]);
  assert.deepEqual(entry(colormapLut('inferno'), 0), [0, 0, 4]);
  assert.deepEqual(entry(colormapLut('inferno'), 255), [252, 255, 164]);
  assert.deepEqual(entry(colormapLut('jet'), 0), [0, 0, 128]);
  assert.deepEqual(entry(colormapLut('jet'), 255), [128, 0, 0]);
  assert.deepEqual(entry(colormapLut('gray'), 77), [77, 77, 77]);
  const diverging = colormapLut('diverging');
  const [r0, , b0] = entry(diverging, 0);
  const [r1, , b1] = entry(diverging, 255);
  assert.ok(b0 > r0 && r1 > b1, 'blue to red');
  for (const i of [127, 128]) assert.ok(entry(diverging, i).every((v) => v >= 250), `near white at ${i}`);
  assert.throws(() => colormapLut('rainbow' as never), /unknown colour map "rainbow"/);
});

test('sequential maps get brighter monotonically, the diverging map is brightest in the middle', () => {
  for (const name of ['viridis', 'inferno', 'gray'] as const) {
    const lut = colormapLut(name);
    for (let i = 1; i < 256; i++) assert.ok(luminance(entry(lut, i)) >= luminance(entry(lut, i - 1)) - 0.5, `${name} at ${i}`);
  }
  const d = colormapLut('diverging');
  assert.ok(luminance(entry(d, 128)) > luminance(entry(d, 0)) && luminance(entry(d, 128)) > luminance(entry(d, 255)));
});

test('LUT index: [0, 1] across the table, signed [-1, 1] centred', () => {
  assert.deepEqual([lutIndex(0, false), lutIndex(1, false), lutIndex(0.5, false)], [0, 255, 128]);
  assert.deepEqual([lutIndex(-1, true), lutIndex(0, true), lutIndex(1, true)], [0, 128, 255]);
  assert.deepEqual([lutIndex(7, false), lutIndex(-3, false), lutIndex(NaN, false)], [255, 0, 0]);
});

test('overlay blends colour over the input with alpha and keeps the input alpha', () => {
  const input = { width: 2, height: 1, data: new Uint8Array([100, 150, 200, 255, 0, 0, 0, 7]) };
  const map = { width: 2, height: 1, data: new Float32Array([0, 1]), clipValue: 1, signed: false };
  const gray = colormapLut('gray');
  assert.deepEqual([...overlay(input, map, 'gray', 0).data], [...input.data], 'alpha 0 is the input');
  assert.deepEqual([...overlay(input, map, 'gray', 1).data], [0, 0, 0, 255, gray[765], gray[766], gray[767], 7], 'alpha 1 is the colour');
  assert.deepEqual([...overlay(input, map, 'gray', 0.5).data], [50, 75, 100, 255, 128, 128, 128, 7]);
  assert.throws(() => overlay(input, { ...map, width: 1, height: 2 }, 'gray', 0.5), /does not match/);
  // The diverging map always puts 0 in the middle: an unsigned 0 is white, not blue.
  assert.ok([...colorize(map, 'diverging').data.subarray(0, 3)].every((v) => v >= 250));
});

test('alpha validation', () => {
  assert.equal(parseAlpha('0.25', '--alpha'), 0.25);
  for (const bad of ['1.5', '-0.1', 'half', NaN]) assert.throws(() => parseAlpha(bad, '--alpha'), (e: unknown) => isBadInput(e) && e.message.startsWith('--alpha: '));
});

test('side-by-side figure: widths plus gaps, top-aligned, background in the gaps', () => {
  const a = filledRgba(2, 3, [255, 0, 0, 255]);
  const b = filledRgba(1, 1, [0, 255, 0, 255]);
  const fig = sideBySide([a, b], 2, [1, 2, 3, 4]);
  assert.deepEqual([fig.width, fig.height], [5, 3]);
  const px = (x: number, y: number) => [...fig.data.subarray((y * 5 + x) * 4, (y * 5 + x) * 4 + 4)];
  assert.deepEqual(px(1, 2), [255, 0, 0, 255]);
  assert.deepEqual(px(2, 0), [1, 2, 3, 4], 'gap');
  assert.deepEqual(px(4, 0), [0, 255, 0, 255]);
  assert.deepEqual(px(4, 1), [1, 2, 3, 4], 'below the shorter image');
  assert.deepEqual([...rgbToRgba(1, 1, new Uint8Array([9, 8, 7])).data], [9, 8, 7, 255]);
});

test('renderPanels: input, map, overlay and figure from an attribution', () => {
  // 4×4 attribution with three channels, one hot pixel at (1, 2) and a weak one at (3, 0).
  const values = new Float32Array(4 * 4 * 3);
  values[(2 * 4 + 1) * 3 + 1] = -10;
  values[(0 * 4 + 3) * 3] = 1;
  const input = filledRgba(4, 4, [100, 100, 100, 255]);
  const display = { colormap: 'gray' as const, alpha: 1, clipPercentile: 100, reduce: 'max-abs' as const };
  const panels = renderPanels({ height: 4, width: 4, channels: 3, data: values.buffer, signed: true }, input, display, 1);
  const mapAt = (x: number, y: number) => panels.map.data[(y * 4 + x) * 4];
  assert.equal(mapAt(1, 2), 255, 'hot pixel white');
  assert.equal(mapAt(3, 0), Math.round(0.1 * 255), 'weak pixel');
  assert.equal(mapAt(0, 0), 0);
  assert.deepEqual([...panels.overlay.data], [...panels.map.data], 'alpha 1');
  assert.deepEqual([panels.figure.width, panels.figure.height], [14, 4]);
  assert.equal(panels.normalized.clipValue, 10);

  // A coarse 2×2 map (CAM-like) is upsampled to the input size.
  const coarse = renderPanels({ height: 2, width: 2, channels: 1, data: new Float32Array([0, 1, 0, 1]), signed: false }, input, display);
  assert.deepEqual([coarse.map.width, coarse.map.height], [4, 4]);
  assert.deepEqual([0, 1, 2, 3].map((x) => coarse.map.data[x * 4]), [0, 64, 191, 255]);
});
