/** Test helper: deterministic test values for the kernel tests (an LCG, so values are stable across runs). */

/** Pseudo-random values in [-1, 1); `levels` > 0 quantises them (×3) so that ties and exact kinks occur. */
export function lcgValues(n: number, seed: number, levels = 0): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32 * 2 - 1;
    return levels ? Math.round(u * levels) / levels * 3 : u;
  });
}

/** The number of elements of a shape. */
export const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
