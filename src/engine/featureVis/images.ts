/** Pictures of feature visualisation: tensors to 8-bit RGB, FlashTorch's display scaling, and filter grids. */
import * as tf from '@tensorflow/tfjs-core';
import type { RgbaImage } from '../../shared/protocol';
import type { RgbImage } from '../image/decode';
import { rgbToRgba } from '../../shared/render/types';

/** Splits an [N, H, W, 3] RGB batch in [0, 1] into 8-bit images (rounded, clipped). */
export function rgbBatchToImages(rgb: tf.Tensor4D): RgbImage[] {
  const [n, h, w] = rgb.shape;
  const values = rgb.dataSync();
  const size = h * w * 3;
  return Array.from({ length: n }, (_, i) => {
    const data = new Uint8Array(size);
    for (let k = 0; k < size; k++) {
      const v = Math.round(values[i * size + k] * 255);
      data[k] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return { width: w, height: h, data };
  });
}

/** The [N, H, W, 3] tensor in [0, 1] of 8-bit images (the caller disposes it). */
export function imagesToRgb(images: readonly RgbImage[]): tf.Tensor4D {
  const { width, height } = images[0];
  const data = new Float32Array(images.length * width * height * 3);
  images.forEach((im, i) => {
    for (let k = 0; k < im.data.length; k++) data[i * im.data.length + k] = im.data[k] / 255;
  });
  return tf.tensor4d(data, [images.length, height, width, 3]);
}

/**
 * FlashTorch's display of an optimised model input (`standardize_and_clip`): per image, (x − mean) / std ·
 * 0.1 + 0.5, clipped to [0, 1]. One channel is shown grey; `bgr` inputs are turned back to RGB.
 */
export function standardizedImages(input: tf.Tensor4D, bgr: boolean): RgbImage[] {
  const rgb = tf.tidy(() => {
    const n = input.shape[0];
    const axes = [1, 2, 3];
    const { mean, variance } = tf.moments(input, axes, true);
    let x = tf.add(tf.mul(tf.div(tf.sub(input, mean), tf.add(tf.sqrt(variance), 1e-7)), 0.1), 0.5);
    x = tf.clipByValue(x, 0, 1);
    if (input.shape[3] === 1) x = tf.tile(x, [1, 1, 1, 3]);
    return tf.reshape(x, [n, input.shape[1], input.shape[2], 3]) as tf.Tensor4D;
  });
  try {
    const images = rgbBatchToImages(rgb);
    if (bgr && input.shape[3] === 3) {
      for (const im of images) {
        for (let k = 0; k < im.data.length; k += 3) [im.data[k], im.data[k + 2]] = [im.data[k + 2], im.data[k]];
      }
    }
    return images;
  } finally {
    rgb.dispose();
  }
}

/** Opaque RGBA of an RGB image, as the protocol carries pictures. */
export function toRgbaImage(image: RgbImage): RgbaImage {
  const { width, height, data } = rgbToRgba(image.width, image.height, image.data);
  return { width, height, data: data.buffer as ArrayBuffer };
}

/** Enlarges an image by an integer factor with nearest-neighbour sampling (pixels stay visible). */
export function enlargeNearest(image: RgbImage, factor: number): RgbImage {
  if (factor <= 1) return image;
  const width = image.width * factor;
  const height = image.height * factor;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < width; x++) {
      const from = (sy * image.width + Math.floor(x / factor)) * 3;
      data.set(image.data.subarray(from, from + 3), (y * width + x) * 3);
    }
  }
  return { width, height, data };
}

/**
 * Tiles equally sized images in a grid (row-major, `columns` default ⌈√n⌉) on a white background with
 * `gap` pixels between tiles, each enlarged so that its side is at least `minTile` pixels.
 */
export function filterGrid(images: readonly RgbImage[], options: { columns?: number; gap?: number; minTile?: number } = {}): RgbImage {
  if (images.length === 0) throw new Error('filterGrid: no images');
  const factor = Math.max(1, Math.ceil((options.minTile ?? 0) / Math.min(images[0].width, images[0].height)));
  const tiles = images.map((im) => enlargeNearest(im, factor));
  const columns = Math.max(1, Math.min(tiles.length, options.columns ?? Math.ceil(Math.sqrt(tiles.length))));
  const rows = Math.ceil(tiles.length / columns);
  const gap = options.gap ?? 4;
  const tw = tiles[0].width;
  const th = tiles[0].height;
  const width = columns * tw + (columns + 1) * gap;
  const height = rows * th + (rows + 1) * gap;
  const data = new Uint8Array(width * height * 3).fill(255);
  tiles.forEach((tile, i) => {
    const left = gap + (i % columns) * (tw + gap);
    const top = gap + Math.floor(i / columns) * (th + gap);
    for (let y = 0; y < th; y++) data.set(tile.data.subarray(y * tw * 3, (y + 1) * tw * 3), ((top + y) * width + left) * 3);
  });
  return { width, height, data };
}
