/**
 * Image parameterisations for feature visualisation: the tensors the optimiser changes, and how they become
 * a batch of images. 'pixel' and 'fourier' render RGB in [0, 1] (through a sigmoid); 'rgb' is an RGB image
 * optimised directly and clipped to [0, 1] (DeepDream); 'input' is the model's preprocessed input itself
 * (FlashTorch's GradientAscent).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gaussianArray } from '../methods/sampling';
import { COLOR_SQRT, realFourierBasis, spectrumScale, transposeSquare } from './fourier';

/** Kinds of parameterisation. */
export type ParamKind = 'pixel' | 'fourier' | 'rgb' | 'input';

/** Standard deviation of the random start of the pixel and Fourier parameterisations (as lucid). */
const INIT_SD = 0.01;
/** Divides the Fourier image before colour mixing, keeping the sigmoid in its linear range at first. */
const FOURIER_DAMPING = 4;

/** A parameterisation: renders images from the optimised tensors. */
export interface ImageParam {
  kind: ParamKind;
  /** 'rgb': render gives RGB in [0,1] that is preprocessed next; 'input': render gives the model input. */
  space: 'rgb' | 'input';
  /** [N, H, W, 3] RGB (or the model input, [N, H, W, C]) from the variables. */
  render(vars: tf.Tensor[]): tf.Tensor4D;
  /** Applied to each variable after a step (keeps a directly optimised RGB image in [0, 1]). */
  project?(v: tf.Tensor): tf.Tensor;
  /** Frees the parameterisation's constants (not the variables). */
  dispose(): void;
}

/** A parameterisation with the initial values of its variables (owned by the caller). */
export interface ParamInit {
  param: ImageParam;
  vars: tf.Tensor[];
}

/**
 * x · m for a constant matrix m, whose gradient dy · mᵀ uses the transpose given (wasm's matMul with
 * transposeB is about ten times slower than without). mᵀ is saved with the tape, so it may be freed after.
 */
export function constMatMul(x: tf.Tensor2D, m: tf.Tensor2D, mT: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([mT]);
    return {
      value: tf.matMul(input as tf.Tensor2D, m),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.matMul(dy as tf.Tensor2D, saved[0] as tf.Tensor2D),
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor2D;
}

/** Plain pixels: the image is sigmoid(v), v of shape [N, H, W, 3] starting near 0 (grey). */
export function pixelParam(n: number, h: number, w: number, rand: () => number): ParamInit {
  const v = tf.tensor4d(gaussianArray(n * h * w * 3, INIT_SD, rand), [n, h, w, 3]);
  return {
    vars: [v],
    param: { kind: 'pixel', space: 'rgb', render: ([x]) => tf.sigmoid(x) as tf.Tensor4D, dispose: () => undefined },
  };
}

/**
 * Fourier coefficients [N, 3, H, W] of the real basis (see fourier.ts), scaled by 1/f, in decorrelated colour
 * coordinates; image = sigmoid(COLOR_SQRT · (B_H · (coef ⊙ scale) · B_Wᵀ) / 4).
 */
export function fourierParam(n: number, h: number, w: number, rand: () => number): ParamInit {
  const rows = realFourierBasis(h);
  const cols = realFourierBasis(w);
  const byT = tf.tensor2d(transposeSquare(rows.matrix, h), [h, h]);
  const bxT = tf.tensor2d(transposeSquare(cols.matrix, w), [w, w]);
  const by = tf.tensor2d(rows.matrix, [h, h]);
  const bx = tf.tensor2d(cols.matrix, [w, w]);
  const scale = tf.tensor2d(spectrumScale(rows, cols), [h, w]);
  // rgb_row = t_row · Mᵀ for row vectors t.
  const colorT = tf.tensor2d(transposeSquare(Float32Array.from(COLOR_SQRT), 3), [3, 3]);
  const color = tf.tensor2d(Float32Array.from(COLOR_SQRT), [3, 3]);
  const coef = tf.tensor4d(gaussianArray(n * 3 * h * w, INIT_SD, rand), [n, 3, h, w]);
  const render = ([c]: tf.Tensor[]): tf.Tensor4D => {
    const m = c.shape[0];
    const scaled = tf.mul(c, scale);
    // Along x: [m·3·H, W(basis)] · B_Wᵀ → positions x.
    const alongX = tf.reshape(constMatMul(tf.reshape(scaled, [m * 3 * h, w]), bxT, bx), [m * 3, h, w]);
    // Along y: bring H last, then [m·3·W, H(basis)] · B_Hᵀ → positions y.
    const swapped = tf.reshape(tf.transpose(alongX, [0, 2, 1]), [m * 3 * w, h]);
    const spatial = tf.transpose(tf.reshape(constMatMul(swapped as tf.Tensor2D, byT, by), [m, 3, w, h]), [0, 3, 2, 1]);
    const mixed = constMatMul(tf.reshape(tf.div(spatial, FOURIER_DAMPING), [m * h * w, 3]), colorT, color);
    return tf.sigmoid(tf.reshape(mixed, [m, h, w, 3])) as tf.Tensor4D;
  };
  return {
    vars: [coef],
    param: {
      kind: 'fourier', space: 'rgb', render,
      dispose: () => [byT, bxT, by, bx, scale, colorT, color].forEach((t) => t.dispose()),
    },
  };
}

/**
 * An image optimised as it is: RGB in [0, 1] ('rgb', clipped after every step) or the model input
 * ('input'). Takes ownership of `start`.
 */
export function directParam(start: tf.Tensor4D, space: 'rgb' | 'input'): ParamInit {
  return {
    vars: [start],
    param: {
      kind: space === 'rgb' ? 'rgb' : 'input', space,
      render: ([x]) => x as tf.Tensor4D,
      project: space === 'rgb' ? (v) => tf.clipByValue(v, 0, 1) : undefined,
      dispose: () => undefined,
    },
  };
}
