/** Writes rendered pictures (RGBA → PNG, with sharp) and raw attributions (.npy) to disk. */
import sharp from 'sharp';
import { writeFile } from 'node:fs/promises';
import { BadInputError, oneLine } from '../../shared/errors';
import { encodeNpy } from '../../shared/npy';

/** RGBA pixels, row-major, 4 bytes per pixel (ArrayBuffer or typed array). */
export interface PngPixels {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray | ArrayBuffer;
}

function rgbaBytes(image: PngPixels): Buffer {
  const data = image.data;
  const bytes = data instanceof ArrayBuffer ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length !== image.width * image.height * 4) {
    throw new Error(`RGBA image ${image.width}×${image.height} needs ${image.width * image.height * 4} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** Encodes RGBA pixels as a PNG file's bytes. */
export async function encodePng(image: PngPixels): Promise<Uint8Array> {
  const png = await sharp(rgbaBytes(image), { raw: { width: image.width, height: image.height, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

async function writeOrExplain(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'cannot write: folder does not exist'
      : code === 'EACCES' || code === 'EPERM' ? 'cannot write: permission denied'
      : code === 'EISDIR' ? 'cannot write: is a directory'
      : `cannot write (${oneLine(err)})`;
    throw new BadInputError(path, problem);
  }
}

/** Writes RGBA pixels to a PNG file. */
export async function writePng(path: string, image: PngPixels): Promise<void> {
  await writeOrExplain(path, await encodePng(image));
}

/** Writes a float32 array to a NumPy .npy file (v1.0, little-endian, C order). */
export async function writeNpyFile(path: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  await writeOrExplain(path, encodeNpy(data, shape));
}
