/**
 * A real-valued Fourier basis for image parameterisation, built as plain matrices so that the image is two
 * matMuls away from its spectrum (the wasm backend has no FFT kernels, and matMul has gradients everywhere).
 *
 * Along one axis of length n the basis is the orthonormal real Fourier series: the constant, cos/sin pairs of
 * k cycles for 0 < k < n/2, and the alternating ±1 vector when n is even. The 2-D basis is the tensor product
 * of the row and column bases; the product of a k-cycle and an l-cycle function holds the frequencies
 * (±k/H, ±l/W), all of magnitude sqrt((k/H)² + (l/W)²), so the 1/f scaling of lucid's parameterisation
 * (Olah et al. 2017, "Feature Visualization") carries over exactly.
 */

/** An orthonormal real Fourier basis of length n: `matrix[pos * n + j]` is basis function j at position pos. */
export interface RealBasis {
  n: number;
  matrix: Float32Array;
  /** Frequency of each basis function in cycles per pixel (0 … 0.5). */
  freqs: Float32Array;
}

/** Builds the orthonormal real Fourier basis of length n. */
export function realFourierBasis(n: number): RealBasis {
  const matrix = new Float32Array(n * n);
  const freqs = new Float32Array(n);
  let j = 0;
  const put = (f: (pos: number) => number, cycles: number) => {
    let norm = 0;
    for (let pos = 0; pos < n; pos++) norm += f(pos) ** 2;
    const inv = 1 / Math.sqrt(norm);
    for (let pos = 0; pos < n; pos++) matrix[pos * n + j] = f(pos) * inv;
    freqs[j] = cycles / n;
    j++;
  };
  put(() => 1, 0);
  for (let k = 1; 2 * k < n; k++) {
    put((pos) => Math.cos((2 * Math.PI * k * pos) / n), k);
    put((pos) => Math.sin((2 * Math.PI * k * pos) / n), k);
  }
  if (n % 2 === 0) put((pos) => (pos % 2 === 0 ? 1 : -1), n / 2);
  return { n, matrix, freqs };
}

/**
 * The spectrum scale [H, W] (row-major): 1 / max(f, 1 / max(H, W))^decay, f the radial frequency of each 2-D
 * basis function. Low frequencies get large scales, so equal steps on the coefficients change the image's
 * coarse structure much more than its fine detail.
 */
export function spectrumScale(rows: RealBasis, cols: RealBasis, decay = 1): Float32Array {
  const floor = 1 / Math.max(rows.n, cols.n);
  const out = new Float32Array(rows.n * cols.n);
  for (let i = 0; i < rows.n; i++) {
    for (let j = 0; j < cols.n; j++) {
      const f = Math.hypot(rows.freqs[i], cols.freqs[j]);
      out[i * cols.n + j] = 1 / Math.max(f, floor) ** decay;
    }
  }
  return out;
}

/** The transpose of an n×n row-major matrix. */
export function transposeSquare(m: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j * n + i] = m[i * n + j];
  return out;
}

/**
 * The square root of the colour covariance of natural (ImageNet) images, the matrix lucid uses for colour
 * decorrelation (rows: R, G, B), normalised so that its largest column norm is 1. The optimiser works in
 * these decorrelated coordinates; rgb = M · t.
 */
export const COLOR_SQRT: readonly number[] = (() => {
  const m = [0.26, 0.09, 0.02, 0.27, 0.0, -0.05, 0.27, -0.09, 0.03];
  let max = 0;
  for (let c = 0; c < 3; c++) max = Math.max(max, Math.hypot(m[c], m[3 + c], m[6 + c]));
  return m.map((v) => v / max);
})();
