import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage } from '../../src/engine/image/decode';
import { isBadInput } from '../../src/shared/errors';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'saliency-bmp-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const W = 5;
const H = 3;
/** The reference picture: distinct colours per pixel, so flips and channel swaps show. */
function colourAt(x: number, y: number): [number, number, number] {
  return [x * 50, y * 100, 255 - x * 20 - y * 10];
}
const PALETTE: Array<[number, number, number]> = Array.from({ length: 15 }, (_, i) => colourAt(i % W, Math.floor(i / W)));

interface BmpSpec {
  bits: 1 | 4 | 8 | 16 | 24 | 32;
  topDown?: boolean;
  compression?: number;
  infoSize?: 40 | 108 | 12;
  masks?: [number, number, number, number];
  /** The packed value (index or pixel word) at x, y. */
  value: (x: number, y: number) => number;
  palette?: Array<[number, number, number]>;
  width?: number;
  height?: number;
}

/** Writes a BMP byte by byte from the specification (BITMAPINFOHEADER, V4 or OS/2 core header). */
function makeBmp(spec: BmpSpec): Buffer {
  const width = spec.width ?? W;
  const height = spec.height ?? H;
  const infoSize = spec.infoSize ?? 40;
  const maskBytes = spec.masks && infoSize === 40 ? 12 : 0;
  const palette = spec.palette ?? [];
  const entry = infoSize === 12 ? 3 : 4;
  const stride = Math.ceil((width * spec.bits) / 32) * 4;
  const offset = 14 + infoSize + maskBytes + palette.length * entry;
  const out = Buffer.alloc(offset + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(offset, 10);
  out.writeUInt32LE(infoSize, 14);
  if (infoSize === 12) {
    out.writeUInt16LE(width, 18);
    out.writeInt16LE(height, 20);
    out.writeUInt16LE(1, 22);
    out.writeUInt16LE(spec.bits, 24);
  } else {
    out.writeInt32LE(width, 18);
    out.writeInt32LE(spec.topDown ? -height : height, 22);
    out.writeUInt16LE(1, 26);
    out.writeUInt16LE(spec.bits, 28);
    out.writeUInt32LE(spec.compression ?? (spec.masks ? 3 : 0), 30);
    out.writeUInt32LE(palette.length, 46);
    if (spec.masks) spec.masks.forEach((m, i) => { if (i < 3 || infoSize > 40) out.writeUInt32LE(m, 54 + i * 4); });
  }
  palette.forEach(([r, g, b], i) => out.set([b, g, r], 14 + infoSize + maskBytes + i * entry));
  for (let y = 0; y < height; y++) {
    const row = offset + (spec.topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const v = spec.value(x, y);
      if (spec.bits < 8) {
        const bit = x * spec.bits;
        out[row + (bit >> 3)] |= v << (8 - spec.bits - (bit & 7));
      } else if (spec.bits === 8) out[row + x] = v;
      else if (spec.bits === 16) out.writeUInt16LE(v, row + x * 2);
      else if (spec.bits === 24) out.writeUIntLE(v, row + x * 3, 3);
      else out.writeUInt32LE(v >>> 0, row + x * 4);
    }
  }
  return out;
}

const bgrWord = (x: number, y: number) => {
  const [r, g, b] = colourAt(x, y);
  return (r << 16) | (g << 8) | b;
};

function write(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function expectPicture(path: string, expected: (x: number, y: number) => number[], tolerance = 0): Promise<void> {
  const image = await decodeImage(path);
  assert.deepEqual([image.width, image.height], [W, H]);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const got = [...image.data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
    const want = expected(x, y);
    assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= tolerance), `${path} at ${x},${y}: got [${got}], expected [${want}]`);
  }
}

test('24-bit BMP, bottom-up and top-down', async () => {
  await expectPicture(write('rgb24.bmp', makeBmp({ bits: 24, value: bgrWord })), colourAt);
  await expectPicture(write('rgb24-top.bmp', makeBmp({ bits: 24, topDown: true, value: bgrWord })), colourAt);
});

test('32-bit BMP: BI_RGB ignores the fourth byte; bit fields with alpha are flattened on white', async () => {
  // The unused byte is 0 in most files: that must not read as transparent.
  await expectPicture(write('rgb32.bmp', makeBmp({ bits: 32, value: bgrWord })), colourAt);
  const masks: [number, number, number, number] = [0x00ff0000, 0x0000ff00, 0x000000ff, 0xff000000];
  const opaque = write('argb32.bmp', makeBmp({ bits: 32, infoSize: 108, masks, value: (x, y) => (0xff000000 | bgrWord(x, y)) >>> 0 }));
  await expectPicture(opaque, colourAt);
  const transparent = write('argb32-clear.bmp', makeBmp({
    bits: 32, infoSize: 108, masks, value: (x, y) => ((x === 0 ? 0 : 0xff000000) | bgrWord(x, y)) >>> 0,
  }));
  await expectPicture(transparent, (x, y) => (x === 0 ? [255, 255, 255] : colourAt(x, y)));
  // Swapped masks (RGBA in memory order) are honoured too.
  const rgbaMasks: [number, number, number, number] = [0x000000ff, 0x0000ff00, 0x00ff0000, 0];
  await expectPicture(write('bgr-masks.bmp', makeBmp({ bits: 32, masks: rgbaMasks, value: (x, y) => {
    const [r, g, b] = colourAt(x, y);
    return (b << 16) | (g << 8) | r;
  } })), colourAt);
});

test('16-bit BMP: default 5-5-5 and 5-6-5 bit fields', async () => {
  const to5 = (v: number) => Math.round((v * 31) / 255);
  const to6 = (v: number) => Math.round((v * 63) / 255);
  const back = (v: number, bits: number) => Math.round((v * 255) / (2 ** bits - 1));
  const p555 = write('rgb555.bmp', makeBmp({ bits: 16, value: (x, y) => {
    const [r, g, b] = colourAt(x, y);
    return (to5(r) << 10) | (to5(g) << 5) | to5(b);
  } }));
  await expectPicture(p555, (x, y) => colourAt(x, y).map((v) => back(to5(v), 5)));
  const p565 = write('rgb565.bmp', makeBmp({ bits: 16, masks: [0xf800, 0x07e0, 0x001f, 0], value: (x, y) => {
    const [r, g, b] = colourAt(x, y);
    return (to5(r) << 11) | (to6(g) << 5) | to5(b);
  } }));
  await expectPicture(p565, (x, y) => {
    const [r, g, b] = colourAt(x, y);
    return [back(to5(r), 5), back(to6(g), 6), back(to5(b), 5)];
  });
});

test('palette BMPs: 8-bit, 4-bit, 1-bit and the OS/2 core header', async () => {
  const index = (x: number, y: number) => y * W + x;
  await expectPicture(write('pal8.bmp', makeBmp({ bits: 8, palette: PALETTE, value: index })), colourAt);
  await expectPicture(write('pal4.bmp', makeBmp({ bits: 4, palette: PALETTE, value: index })), colourAt);
  await expectPicture(write('core8.bmp', makeBmp({ bits: 8, infoSize: 12, palette: [...PALETTE, ...Array(241).fill([0, 0, 0])], value: index })), colourAt);
  const twoColours: Array<[number, number, number]> = [[0, 0, 0], [255, 255, 255]];
  await expectPicture(write('pal1.bmp', makeBmp({ bits: 1, palette: twoColours, value: (x, y) => (x + y) % 2 })),
    (x, y) => ((x + y) % 2 ? [255, 255, 255] : [0, 0, 0]));
});

test('unsupported, truncated and oversized BMPs are one-line errors naming the file', async () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['rle8.bmp', makeBmp({ bits: 8, compression: 1, palette: PALETTE, value: () => 0 }), /unsupported format BMP \(RLE8 compression\)/],
    ['cut.bmp', makeBmp({ bits: 24, value: bgrWord }).subarray(0, 70), /truncated BMP/],
    ['huge.bmp', makeBmp({ bits: 24, width: 1, height: 1, value: () => 0 }), /./],
  ];
  // Rewrite the last one's header to claim 100000×100000 pixels: refused before reading any pixel data.
  cases[2][1].writeInt32LE(100000, 18);
  cases[2][1].writeInt32LE(100000, 22);
  cases[2][2] = /image too large: 100000×100000 exceeds 50000000 pixels/;
  for (const [name, bytes, problem] of cases) {
    const path = write(name, bytes);
    await assert.rejects(decodeImage(path), (err: unknown) => {
      assert.ok(isBadInput(err), String(err));
      assert.equal(err.subject, path);
      assert.match(err.message, problem);
      return true;
    });
  }
});
