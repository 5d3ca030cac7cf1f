import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, type RgbImage } from '../../src/engine/image/decode';
import { isBadInput } from '../../src/shared/errors';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'saliency-decode-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return [...image.data.subarray(i, i + 3)];
}

function near(actual: number[], expected: number[], tolerance: number, what: string): void {
  assert.ok(actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance), `${what}: got [${actual}], expected [${expected}] ±${tolerance}`);
}

/** A 32×16 RGB picture: left 16×16 red, right 16×16 blue (8×8-aligned so JPEG keeps the colours). */
function redBlue(): Buffer {
  const raw = Buffer.alloc(32 * 16 * 3);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 32; x++) raw.set(x < 16 ? [255, 0, 0] : [0, 0, 255], (y * 32 + x) * 3);
  return raw;
}
const redBlueInput = () => sharp(redBlue(), { raw: { width: 32, height: 16, channels: 3 } });

async function expectBadInput(promise: Promise<unknown>, path: string, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isBadInput(err), `expected BadInputError, got ${String(err)}`);
    assert.equal(err.subject, path);
    assert.match(err.message, problem);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

test('PNG, WebP, TIFF, GIF and AVIF decode to the same RGB pixels', async () => {
  const encoders: Array<[string, (s: sharp.Sharp) => sharp.Sharp, number]> = [
    ['png', (s) => s.png(), 0],
    ['webp', (s) => s.webp({ lossless: true }), 0],
    ['tiff', (s) => s.tiff({ compression: 'lzw' }), 0],
    ['gif', (s) => s.gif(), 0],
    ['avif', (s) => s.avif({ quality: 90 }), 40],
    ['jpg', (s) => s.jpeg({ quality: 95 }), 40],
  ];
  for (const [ext, encode, tolerance] of encoders) {
    const path = file(`pic.${ext}`, await encode(redBlueInput()).toBuffer());
    const image = await decodeImage(path);
    assert.equal(image.width, 32, ext);
    assert.equal(image.height, 16, ext);
    assert.equal(image.data.length, 32 * 16 * 3, ext);
    near(pixel(image, 4, 8), [255, 0, 0], tolerance, `${ext} left`);
    near(pixel(image, 28, 8), [0, 0, 255], tolerance, `${ext} right`);
  }
});

test('JPEG EXIF orientation 6 is applied (rotated 90° clockwise)', async () => {
  const jpeg = await redBlueInput().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6, 'fixture carries the tag');
  const image = await decodeImage(file('rotated.jpg', jpeg));
  assert.deepEqual([image.width, image.height], [16, 32]);
  // Stored left (red) becomes the top, stored right (blue) the bottom.
  near(pixel(image, 8, 4), [255, 0, 0], 40, 'top');
  near(pixel(image, 8, 28), [0, 0, 255], 40, 'bottom');
});

test('CMYK JPEG is converted to sRGB', async () => {
  const colour = { r: 200, g: 40, b: 40 };
  const input = () => sharp({ create: { width: 16, height: 16, channels: 3, background: colour } });
  const cmyk = await input().toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
  const meta = await sharp(cmyk).metadata();
  assert.equal(meta.space, 'cmyk', 'fixture is CMYK');
  assert.equal(meta.channels, 4);
  const image = await decodeImage(file('cmyk.jpg', cmyk));
  assert.equal(image.data.length, 16 * 16 * 3);
  near(pixel(image, 8, 8), [colour.r, colour.g, colour.b], 30, 'CMYK colour');
});

test('the first frame of an animated GIF is used', async () => {
  const frames = Buffer.alloc(8 * 16 * 3);
  for (let i = 0; i < 8 * 8; i++) frames.set([255, 0, 0], i * 3);
  for (let i = 8 * 8; i < 8 * 16; i++) frames.set([0, 0, 255], i * 3);
  const gif = await sharp(frames, { raw: { width: 8, height: 16, channels: 3, pageHeight: 8 } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2, 'fixture has two frames');
  const image = await decodeImage(file('anim.gif', gif));
  assert.deepEqual([image.width, image.height], [8, 8]);
  near(pixel(image, 4, 4), [255, 0, 0], 0, 'first frame');
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** A PNG written by hand (colour type 2 = RGB), so 16-bit samples and lying headers are possible. */
function handPng(width: number, height: number, bitDepth: number, rows: Uint8Array[]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, 2, 0, 0, 0], 8);
  const raw = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', new Uint8Array(0)),
  ]);
}

test('16-bit PNG becomes 8-bit', async () => {
  const row = Buffer.alloc(2 * 3 * 2);
  [0xffff, 0x8000, 0x0000, 0x0101, 0x4000, 0xfeff].forEach((v, i) => row.writeUInt16BE(v, i * 2));
  const path = file('deep.png', handPng(2, 1, 16, [row]));
  assert.equal((await sharp(path).metadata()).depth, 'ushort', 'fixture is 16-bit');
  const image = await decodeImage(path);
  near(pixel(image, 0, 0), [255, 128, 0], 1, 'pixel 0');
  near(pixel(image, 1, 0), [1, 64, 254], 1, 'pixel 1');
});

test('alpha is flattened onto white and grayscale is expanded to RGB', async () => {
  const rgba = Buffer.from([255, 0, 0, 0, 0, 0, 0, 128, 0, 255, 0, 255]);
  const image = await decodeImage(file('alpha.png', await sharp(rgba, { raw: { width: 3, height: 1, channels: 4 } }).png().toBuffer()));
  near(pixel(image, 0, 0), [255, 255, 255], 0, 'transparent red → background');
  near(pixel(image, 1, 0), [127, 127, 127], 1, 'half-transparent black → gray');
  near(pixel(image, 2, 0), [0, 255, 0], 0, 'opaque green unchanged');

  const gray = await decodeImage(file('gray.png', await sharp(Buffer.from([0, 100, 255]), { raw: { width: 3, height: 1, channels: 1 } }).png().toBuffer()));
  assert.deepEqual([...gray.data], [0, 0, 0, 100, 100, 100, 255, 255, 255]);
});

test('missing files, folders, empty and non-image files are one-line errors naming the file', async () => {
  const missing = join(dir, 'nope.png');
  await expectBadInput(decodeImage(missing), missing, /file not found/);
  const folder = join(dir, 'folder.png');
  mkdirSync(folder);
  await expectBadInput(decodeImage(folder), folder, /directory/);
  const empty = file('empty.png', '');
  await expectBadInput(decodeImage(empty), empty, /not an image/);
  const text = file('notes.jpg', 'just some text, not pixels at all');
  await expectBadInput(decodeImage(text), text, /not an image/);
  const svg = file('icon.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>');
  await expectBadInput(decodeImage(svg), svg, /unsupported format SVG/);
  const psd = file('layers.psd', Buffer.concat([Buffer.from('8BPS'), Buffer.alloc(40)]));
  await expectBadInput(decodeImage(psd), psd, /unsupported format PSD/);
});

test('truncated images are reported, not half-decoded', async () => {
  const png = await redBlueInput().png().toBuffer();
  const cut = file('cut.png', png.subarray(0, Math.floor(png.length / 2)));
  await expectBadInput(decodeImage(cut), cut, /corrupt or truncated/);
});

test('the pixel limit refuses large images before decoding them', async () => {
  const path = file('big.png', await sharp({ create: { width: 100, height: 60, channels: 3, background: '#000' } }).png().toBuffer());
  await expectBadInput(decodeImage(path, { maxPixels: 5000 }), path, /image too large: 100×60 exceeds 5000 pixels/);
  assert.equal((await decodeImage(path, { maxPixels: 6000 })).width, 100);
  // A bomb: the header claims 30000×30000 but carries one row; it is refused from the header alone.
  const bomb = file('bomb.png', handPng(30000, 30000, 8, [new Uint8Array(30000 * 3)]));
  await expectBadInput(decodeImage(bomb), bomb, /image too large: 30000×30000 exceeds 50000000 pixels/);
});

test('an image overwritten on disk is read anew, not served from a cache', async () => {
  const colourPng = (background: string) => sharp({ create: { width: 4, height: 4, channels: 3, background } }).png().toBuffer();
  const path = file('changing.png', await colourPng('#ff0000'));
  near(pixel(await decodeImage(path), 1, 1), [255, 0, 0], 0, 'first version');
  writeFileSync(path, await colourPng('#00ff00'));
  near(pixel(await decodeImage(path), 1, 1), [0, 255, 0], 0, 'second version');
});
