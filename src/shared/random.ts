/** A seeded random generator shared by the engine and the extension, so seeds mean the same everywhere. */

const STEP = 0x6d2b79f5;

/** A deterministic uniform [0,1) generator (mulberry32). */
export function uniformRandom(seed: number): () => number {
  return uniformRandomFrom(seed, 0);
}

/**
 * The generator of `uniformRandom(seed)` after `skip` draws. mulberry32's state only ever adds a constant, so
 * any position of the stream is one multiplication away: helper threads draw their samples' share directly.
 */
export function uniformRandomFrom(seed: number, skip: number): () => number {
  // The state wraps at 2^32, so only skip mod 2^32 matters (exact for any skip below 2^53).
  let a = (((seed ^ 0x9e3779b9) >>> 0) + Math.imul(skip % 4294967296 >>> 0, STEP)) >>> 0;
  return () => {
    a = (a + STEP) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
