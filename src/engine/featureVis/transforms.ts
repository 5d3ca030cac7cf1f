/**
 * Random transforms applied to the image at every optimisation step (lucid's "transformation robustness"):
 * padding with grey, then one bilinear resampling that jitters, scales and rotates. An image that excites a
 * filter under all of them cannot rely on pixel-exact high-frequency patterns.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { affineResample, type Affine } from './resample';

/** Transform ranges, in pixels and degrees. */
export interface TransformSettings {
  /**
   * Grey border (pixels): the image is treated as padded with `padValue`, so rotations and shifts bring in
   * grey rather than repeated border pixels. The output keeps the image's size, so any width > 0 acts alike.
   */
  pad: number;
  /** Largest translation in either direction (pixels). */
  jitter: number;
  /** Scale factors are drawn uniformly from [min, max]. */
  scale: [number, number];
  /** Rotations are drawn uniformly from [−rotate, rotate] degrees. */
  rotate: number;
  /** The value of the padding, in the image's [0, 1] RGB (0.5: grey). */
  padValue: number;
}

/** The default transforms for a square image of `size` pixels: lucid's settings at 224, scaled with size. */
export function defaultTransforms(size: number): TransformSettings {
  return {
    pad: Math.max(1, Math.round((size * 12) / 224)),
    jitter: Math.max(1, Math.round((size * 8) / 224)),
    scale: [0.9, 1.1],
    rotate: 10,
    padValue: 0.5,
  };
}

/** Only padding and jitter (DeepDream's shift; no scale or rotation). */
export function jitterOnly(size: number): TransformSettings {
  const t = defaultTransforms(size);
  return { ...t, scale: [1, 1], rotate: 0 };
}

/** Draws one random affine map per image from the seeded generator. */
export function randomAffines(n: number, settings: TransformSettings, rand: () => number): Affine[] {
  const maps: Affine[] = [];
  for (let i = 0; i < n; i++) {
    const s = settings.scale[0] + (settings.scale[1] - settings.scale[0]) * rand();
    const theta = ((2 * rand() - 1) * settings.rotate * Math.PI) / 180;
    const ty = (2 * rand() - 1) * settings.jitter;
    const tx = (2 * rand() - 1) * settings.jitter;
    // Output offsets map to input offsets by R(θ)/s: zooming in by s shows a 1/s-sized window.
    const cos = Math.cos(theta) / s;
    const sin = Math.sin(theta) / s;
    maps.push({ a: cos, b: -sin, c: sin, d: cos, ty, tx });
  }
  return maps;
}

/**
 * Resamples every image with its map back to outH×outW (RGB in [0, 1], NHWC). With padding, what the map
 * brings in from outside the image is the pad value (grey), else the image's border is extended.
 */
export function applyTransforms(rgb: tf.Tensor4D, maps: readonly Affine[], settings: TransformSettings, outH: number, outW: number): tf.Tensor4D {
  return affineResample(rgb, maps, outH, outW, settings.pad > 0 ? settings.padValue : undefined);
}
