/**
 * A small decoder for Windows BMP files, which sharp/libvips cannot read: uncompressed 1/4/8-bit palette,
 * 16/24/32-bit direct colour (BI_RGB or BI_BITFIELDS masks). RLE and embedded JPEG/PNG are refused.
 */

/** The parts of a BMP header needed to size and decode the image. */
export interface BmpHeader {
  width: number;
  height: number;
  bitsPerPixel: number;
  /** 0 = BI_RGB, 1 = BI_RLE8, 2 = BI_RLE4, 3 = BI_BITFIELDS, 4 = BI_JPEG, 5 = BI_PNG, 6 = BI_ALPHABITFIELDS. */
  compression: number;
  topDown: boolean;
  dataOffset: number;
  infoSize: number;
  paletteSize: number;
  masks: [number, number, number, number] | null;
}

/** A problem found while decoding a BMP, phrased for the user (the caller adds the file path). */
export class BmpError extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'BmpError';
  }
}

const COMPRESSION_NAMES: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 4: 'embedded JPEG', 5: 'embedded PNG' };

/** True when the bytes start like a BMP file ("BM"). */
export function looksLikeBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Parses and validates the BMP file and info headers. */
export function readBmpHeader(bytes: Uint8Array): BmpHeader {
  if (bytes.length < 26 || !looksLikeBmp(bytes)) throw new BmpError('not a BMP file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const infoSize = view.getUint32(14, true);
  let width: number;
  let rawHeight: number;
  let bitsPerPixel: number;
  let compression = 0;
  let paletteSize = 0;
  let masks: BmpHeader['masks'] = null;
  if (infoSize === 12) {
    // OS/2 BITMAPCOREHEADER: 16-bit dimensions, 3-byte palette entries.
    width = view.getUint16(18, true);
    rawHeight = view.getInt16(20, true);
    bitsPerPixel = view.getUint16(24, true);
  } else if (infoSize >= 40 && 14 + infoSize <= bytes.length) {
    width = view.getInt32(18, true);
    rawHeight = view.getInt32(22, true);
    bitsPerPixel = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    paletteSize = view.getUint32(46, true);
    if (compression === 3 || compression === 6) {
      // Masks follow a 40-byte header as separate fields, or sit inside the V2+ headers at the same offset.
      if (bytes.length < 14 + 40 + 12) throw new BmpError('truncated BMP header');
      const alpha = compression === 6 || infoSize >= 56 ? view.getUint32(66, true) : 0;
      masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true), alpha];
    } else if (infoSize >= 56 && bitsPerPixel === 32) {
      const alpha = view.getUint32(66, true);
      if (alpha !== 0) masks = [0x00ff0000, 0x0000ff00, 0x000000ff, alpha];
    }
  } else {
    throw new BmpError(`corrupt BMP header (info header size ${infoSize})`);
  }
  if (COMPRESSION_NAMES[compression]) throw new BmpError(`unsupported format BMP (${COMPRESSION_NAMES[compression]} compression)`);
  if (compression !== 0 && compression !== 3 && compression !== 6) throw new BmpError(`unsupported format BMP (compression type ${compression})`);
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) throw new BmpError(`unsupported format BMP (${bitsPerPixel} bits per pixel)`);
  if ((compression === 3 || compression === 6) && bitsPerPixel !== 16 && bitsPerPixel !== 32) {
    throw new BmpError(`corrupt BMP header (bit-field masks with ${bitsPerPixel} bits per pixel)`);
  }
  if (width <= 0 || rawHeight === 0 || rawHeight === -2147483648) throw new BmpError(`corrupt BMP header (size ${width}×${rawHeight})`);
  return { width, height: Math.abs(rawHeight), bitsPerPixel, compression, topDown: rawHeight < 0, dataOffset, infoSize, paletteSize, masks };
}

/** Extracts one channel from a packed pixel with a bit mask, scaled to 0–255. */
function maskReader(mask: number): (pixel: number) => number {
  if (mask === 0) return () => 255;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (((mask >>> (shift + bits)) & 1) === 1 && bits < 32) bits++;
  const max = 2 ** bits - 1;
  return (pixel) => Math.round((((pixel & mask) >>> shift) * 255) / max);
}

function readPalette(bytes: Uint8Array, header: BmpHeader): Uint8Array {
  const entryBytes = header.infoSize === 12 ? 3 : 4;
  const start = 14 + header.infoSize;
  const maxEntries = 1 << header.bitsPerPixel;
  const count = header.paletteSize > 0 ? Math.min(header.paletteSize, maxEntries) : maxEntries;
  const available = Math.floor(Math.max(0, Math.min(header.dataOffset, bytes.length) - start) / entryBytes);
  if (available < 1) throw new BmpError('corrupt BMP (palette missing)');
  const palette = new Uint8Array(maxEntries * 3); // out-of-range indices read as black, as Windows does
  for (let i = 0; i < Math.min(count, available); i++) {
    const at = start + i * entryBytes;
    palette[i * 3] = bytes[at + 2];
    palette[i * 3 + 1] = bytes[at + 1];
    palette[i * 3 + 2] = bytes[at];
  }
  return palette;
}

/**
 * Decodes a whole BMP file to 8-bit RGB. Transparent pixels (32-bit with an alpha mask) are composited
 * over `background`; an alpha channel that is zero everywhere is taken as unused, as most writers mean it.
 */
export function decodeBmp(bytes: Uint8Array, background: readonly [number, number, number]): { width: number; height: number; data: Uint8Array } {
  const header = readBmpHeader(bytes);
  const { width, height, bitsPerPixel } = header;
  const stride = Math.ceil((width * bitsPerPixel) / 32) * 4;
  if (header.dataOffset + stride * height > bytes.length) throw new BmpError('truncated BMP (pixel data shorter than its header says)');

  const out = new Uint8Array(width * height * 3);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const palette = bitsPerPixel <= 8 ? readPalette(bytes, header) : null;
  const masks = header.masks ?? (bitsPerPixel === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : null);
  const readers = masks ? masks.map(maskReader) : null;
  const alpha = masks && masks[3] !== 0 ? new Uint8Array(width * height) : null;

  for (let row = 0; row < height; row++) {
    const y = header.topDown ? row : height - 1 - row;
    const rowStart = header.dataOffset + row * stride;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      if (palette) {
        const bitOffset = x * bitsPerPixel;
        const byte = bytes[rowStart + (bitOffset >> 3)];
        const index = (byte >> (8 - bitsPerPixel - (bitOffset & 7))) & ((1 << bitsPerPixel) - 1);
        out[o] = palette[index * 3];
        out[o + 1] = palette[index * 3 + 1];
        out[o + 2] = palette[index * 3 + 2];
      } else if (readers) {
        const pixel = bitsPerPixel === 16 ? view.getUint16(rowStart + x * 2, true) : view.getUint32(rowStart + x * 4, true);
        out[o] = readers[0](pixel);
        out[o + 1] = readers[1](pixel);
        out[o + 2] = readers[2](pixel);
        if (alpha) alpha[y * width + x] = readers[3](pixel);
      } else {
        const at = rowStart + x * (bitsPerPixel >> 3);
        out[o] = bytes[at + 2];
        out[o + 1] = bytes[at + 1];
        out[o + 2] = bytes[at];
      }
    }
  }
  if (alpha && alpha.some((a) => a !== 0)) {
    for (let i = 0; i < alpha.length; i++) {
      const a = alpha[i];
      if (a === 255) continue;
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round((out[i * 3 + c] * a + background[c] * (255 - a)) / 255);
    }
  }
  return { width, height, data: out };
}
