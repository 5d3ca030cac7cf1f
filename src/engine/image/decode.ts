/**
 * Reads an image file into 8-bit RGB: PNG, JPEG, WebP, GIF, TIFF, AVIF with sharp, BMP with our own decoder.
 * Every failure is a BadInputError naming the file.
 */
import sharp from 'sharp';
import { readFile, stat } from 'node:fs/promises';
import { BadInputError, oneLine } from '../../shared/errors';
import { BmpError, decodeBmp, looksLikeBmp, readBmpHeader } from './bmp';

/** An 8-bit RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Default pixel limit (width × height) against decompression bombs: 50 megapixels. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/**
 * Transparent pixels are composited over white: cut-out objects and logos are made to be seen on a white
 * page, and ImageNet-style product photos sit on white, so white keeps the object's outline as the author
 * saw it. Black (what dropping the alpha channel gives) would invent a high-contrast edge that classifiers
 * and their gradients react to.
 */
export const ALPHA_BACKGROUND: readonly [number, number, number] = [255, 255, 255];

/** Options of decodeImage. */
export interface DecodeOptions {
  /** Largest accepted width × height (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

/** Extensions offered by file pickers and context menus for images we can read. */
export const IMAGE_EXTENSIONS: readonly string[] = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'avif'];

const SHARP_FORMATS: Record<string, string> = { jpeg: 'JPEG', png: 'PNG', webp: 'WebP', gif: 'GIF', tiff: 'TIFF' };
/** Seconds after which libvips gives up, so a pathological file cannot hang the engine. */
const DECODE_TIMEOUT_SECONDS = 60;

/** Recognises formats we do not read by their first bytes, to name them in the error. */
function sniffUnsupported(head: Uint8Array): string | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (ascii(0, 4) === '8BPS') return 'PSD';
  if (ascii(0, 4) === '%PDF') return 'PDF';
  if (head[0] === 0 && head[1] === 0 && head[2] === 1 && head[3] === 0) return 'ICO';
  if (ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis'].includes(brand)) return 'HEIC';
  }
  if ((head[0] === 0xff && head[1] === 0x0a) || ascii(4, 12) === 'JXL \r\n\x87\n') return 'JPEG XL';
  if (ascii(4, 12) === 'jP  \r\n\x87\n' || (head[0] === 0xff && head[1] === 0x4f && head[2] === 0xff && head[3] === 0x51)) return 'JPEG 2000';
  if (ascii(0, 4) === 'qoif') return 'QOI';
  if (/^\s*(<\?xml|<svg)/i.test(ascii(0, Math.min(head.length, 64)))) return 'SVG';
  return null;
}

function tooLarge(path: string, width: number, height: number, maxPixels: number): BadInputError {
  return new BadInputError(path, `image too large: ${width}×${height} exceeds ${maxPixels} pixels`);
}

async function checkIsFile(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new BadInputError(path, 'is a directory, not an image file');
    // FIFOs and devices could block a read forever.
    if (!info.isFile()) throw new BadInputError(path, 'not a regular file');
    return info.size;
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new BadInputError(path, 'file not found');
    if (code === 'EACCES' || code === 'EPERM') throw new BadInputError(path, 'permission denied');
    throw new BadInputError(path, `cannot read file (${oneLine(err)})`);
  }
}

function decodeBmpFile(path: string, bytes: Uint8Array, maxPixels: number): RgbImage {
  try {
    const header = readBmpHeader(bytes);
    if (header.width * header.height > maxPixels) throw tooLarge(path, header.width, header.height, maxPixels);
    return decodeBmp(bytes, ALPHA_BACKGROUND);
  } catch (err) {
    if (err instanceof BmpError) throw new BadInputError(path, err.message);
    throw err;
  }
}

/** Converts sharp's raw output (1–4 channels) to packed RGB; sharp gives 3 after toColourspace('srgb'). */
function toRgb(data: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  if (channels === 3) return data;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, o = 0; o < out.length; i += channels, o += 3) {
    if (channels <= 2) {
      out[o] = out[o + 1] = out[o + 2] = data[i];
    } else {
      out[o] = data[i];
      out[o + 1] = data[i + 1];
      out[o + 2] = data[i + 2];
    }
  }
  return out;
}

function sharpProblem(err: unknown): string {
  const text = oneLine(err);
  if (/unsupported image format/i.test(text)) return 'not an image (or a format we cannot read)';
  if (/pixel limit/i.test(text)) return 'image too large';
  if (/timeout/i.test(text)) return `decoding took longer than ${DECODE_TIMEOUT_SECONDS} s`;
  return `corrupt or truncated image (${text.replace(/^Input (file|buffer) (has|contains) /i, '')})`;
}

/**
 * Decodes an image file to 8-bit RGB: EXIF orientation applied, CMYK/16-bit/grayscale/palette converted
 * to 8-bit sRGB, alpha composited over ALPHA_BACKGROUND, the first frame of animations.
 */
export async function decodeImage(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const size = await checkIsFile(path);
  if (size === 0) throw new BadInputError(path, 'not an image (empty file)');
  // Even uncompressed 16-bit RGBA within the pixel limit fits this; more is not an image we would decode.
  const maxBytes = maxPixels * 8 + 64 * 1024 * 1024;
  if (size > maxBytes) throw new BadInputError(path, `file too large: ${Math.round(size / 1048576)} MB`);
  let bytes: Uint8Array;
  try {
    // Reading the bytes ourselves rather than handing sharp the path: libvips caches decoded files by name,
    // and would serve stale pixels after the user overwrites the image (and keep the file open on Windows).
    bytes = await readFile(path);
  } catch (err) {
    throw new BadInputError(path, `cannot read file (${oneLine(err)})`);
  }
  if (looksLikeBmp(bytes)) return decodeBmpFile(path, bytes, maxPixels);
  const unsupported = sniffUnsupported(bytes.subarray(0, 64));
  if (unsupported) throw new BadInputError(path, `unsupported format ${unsupported}`);

  // Metadata reads only the header; it runs without a limit so that the check below can give the sizes.
  // limitInputPixels on the decode is a second line of defence.
  const input = (limit: number | false) => sharp(bytes, { failOn: 'truncated', limitInputPixels: limit, pages: 1, page: 0 });
  let metadata: sharp.Metadata;
  try {
    metadata = await input(false).metadata();
  } catch (err) {
    throw new BadInputError(path, sharpProblem(err));
  }
  const format = metadata.format as string;
  const isAvif = format === 'heif' && metadata.compression === 'av1';
  if (!SHARP_FORMATS[format] && !isAvif) {
    const name = format === 'heif' ? `HEIF (${metadata.compression ?? 'unknown'} compression)` : format.toUpperCase();
    throw new BadInputError(path, `unsupported format ${name}`);
  }
  const width = metadata.width ?? 0;
  const height = metadata.pageHeight ?? metadata.height ?? 0;
  if (width <= 0 || height <= 0) throw new BadInputError(path, 'corrupt image (no size in its header)');
  if (width * height > maxPixels) throw tooLarge(path, width, height, maxPixels);

  try {
    const { data, info } = await input(maxPixels)
      .timeout({ seconds: DECODE_TIMEOUT_SECONDS })
      .autoOrient()
      .flatten({ background: { r: ALPHA_BACKGROUND[0], g: ALPHA_BACKGROUND[1], b: ALPHA_BACKGROUND[2] } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { width: info.width, height: info.height, data: toRgb(pixels, info.width, info.height, info.channels) };
  } catch (err) {
    throw new BadInputError(path, sharpProblem(err));
  }
}
