/** Measurements of feature visualisation pictures: how much of their energy sits in high spatial frequencies. */
import type { RgbImage } from '../image/decode';

/** Default cut-off between low and high frequencies: half the Nyquist frequency, in cycles per pixel. */
export const HIGH_FREQUENCY_CUTOFF = 0.25;

/** |DFT|² of a real plane [h, w] (row-major), by two passes of the direct transform (small images only). */
function powerSpectrum(plane: Float64Array, h: number, w: number): Float64Array {
  const re = new Float64Array(h * w);
  const im = new Float64Array(h * w);
  // Along x.
  for (let y = 0; y < h; y++) {
    for (let k = 0; k < w; k++) {
      let sr = 0;
      let si = 0;
      for (let x = 0; x < w; x++) {
        const a = (-2 * Math.PI * k * x) / w;
        const v = plane[y * w + x];
        sr += v * Math.cos(a);
        si += v * Math.sin(a);
      }
      re[y * w + k] = sr;
      im[y * w + k] = si;
    }
  }
  // Along y.
  const power = new Float64Array(h * w);
  for (let k = 0; k < w; k++) {
    for (let l = 0; l < h; l++) {
      let sr = 0;
      let si = 0;
      for (let y = 0; y < h; y++) {
        const a = (-2 * Math.PI * l * y) / h;
        const c = Math.cos(a);
        const s = Math.sin(a);
        sr += re[y * w + k] * c - im[y * w + k] * s;
        si += re[y * w + k] * s + im[y * w + k] * c;
      }
      power[l * w + k] = sr * sr + si * si;
    }
  }
  return power;
}

/**
 * The fraction of an image's spectral energy (mean removed, summed over R, G, B) at radial frequencies above
 * `cutoff` cycles per pixel: 0 for a smooth picture, about 0.8 for white noise (the share of the frequency
 * square outside the circle of radius 0.25).
 */
export function highFrequencyEnergy(image: RgbImage, cutoff = HIGH_FREQUENCY_CUTOFF): number {
  const { width: w, height: h } = image;
  let high = 0;
  let total = 0;
  for (let c = 0; c < 3; c++) {
    const plane = new Float64Array(h * w);
    let mean = 0;
    for (let i = 0; i < h * w; i++) mean += image.data[i * 3 + c];
    mean /= h * w;
    for (let i = 0; i < h * w; i++) plane[i] = image.data[i * 3 + c] - mean;
    const power = powerSpectrum(plane, h, w);
    for (let l = 0; l < h; l++) {
      const fy = (l <= h / 2 ? l : l - h) / h;
      for (let k = 0; k < w; k++) {
        const fx = (k <= w / 2 ? k : k - w) / w;
        const p = power[l * w + k];
        total += p;
        if (Math.hypot(fy, fx) > cutoff) high += p;
      }
    }
  }
  return total > 0 ? high / total : 0;
}
