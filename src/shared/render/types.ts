/** Image and map types of the renderer (plain typed arrays: usable in Node, the extension and the webview). */

/** RGBA pixels, row-major, 4 bytes per pixel. */
export interface RgbaPixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A single-channel map, row-major [height, width]. */
export interface ScalarMap {
  width: number;
  height: number;
  data: Float32Array;
}

/** Creates an RGBA image filled with one colour. */
export function filledRgba(width: number, height: number, rgba: readonly [number, number, number, number]): RgbaPixels {
  const data = new Uint8Array(width * height * 4);
  const word = new Uint32Array(data.buffer);
  // One 32-bit store per pixel; the byte order of the word follows the platform's endianness.
  const probe = new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] === 0x04;
  const value = probe
    ? ((rgba[3] << 24) | (rgba[2] << 16) | (rgba[1] << 8) | rgba[0]) >>> 0
    : ((rgba[0] << 24) | (rgba[1] << 16) | (rgba[2] << 8) | rgba[3]) >>> 0;
  word.fill(value);
  return { width, height, data };
}

/** Expands packed RGB bytes to opaque RGBA. */
export function rgbToRgba(width: number, height: number, rgb: Uint8Array): RgbaPixels {
  const pixels = width * height;
  if (rgb.length !== pixels * 3) throw new Error(`rgbToRgba: ${rgb.length} bytes for ${width}×${height}`);
  const data = new Uint8Array(pixels * 4);
  for (let i = 0, j = 0; i < pixels * 3; i += 3, j += 4) {
    data[j] = rgb[i];
    data[j + 1] = rgb[i + 1];
    data[j + 2] = rgb[i + 2];
    data[j + 3] = 255;
  }
  return { width, height, data };
}
