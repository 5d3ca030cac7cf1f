// Entry point of a kernel thread (src/engine/kernels/kernelThreads.ts): instantiates our wasm kernels on the
// wasm backend's shared memory and claims pieces of the jobs the engine's thread publishes. Plain CommonJS
// without imports, so that a tsx run and the bundle start the same file.
const { workerData } = require('node:worker_threads');

const { memory, compiled, control, layout, names } = workerData;
const { SEQ, CLAIM, DONE, FN, PIECES, SLEEPING, FAILED, READY, WORKER_PIECES, FAULT, ARGS, ARGS_PER_PIECE, SPIN_MS } = layout;
const ctl = new Int32Array(control);
const kernels = new WebAssembly.Instance(compiled, { env: { memory } }).exports;
const fns = names.map((name) => kernels[name]);

/** Runs pieces of job `seq` until none is left to claim (the engine's thread claims from the same counter). */
function claimPieces(seq) {
  for (;;) {
    const claim = Atomics.load(ctl, CLAIM);
    const piece = claim & 0xff;
    if (claim >>> 8 !== seq || piece >= Atomics.load(ctl, PIECES)) return;
    if (Atomics.compareExchange(ctl, CLAIM, claim, claim + 1) !== claim) continue;
    const base = ARGS + piece * ARGS_PER_PIECE;
    try {
      const fault = Atomics.load(ctl, FAULT);
      if (fault === 1) throw new Error('injected fault');
      // A hang the engine must recover from (terminate() interrupts the loop).
      if (fault === 2) for (;;);
      fns[ctl[FN]](...ctl.subarray(base, base + ARGS_PER_PIECE));
    } catch {
      // The engine's thread recomputes the piece; this thread stops taking work.
      Atomics.store(ctl, FAILED, piece + 1);
      Atomics.add(ctl, DONE, 1);
      throw new Error('kernel thread failed');
    }
    Atomics.add(ctl, WORKER_PIECES, 1);
    Atomics.add(ctl, DONE, 1);
  }
}

Atomics.store(ctl, READY, 1);
let last = Atomics.load(ctl, SEQ);
let spinUntil = performance.now() + SPIN_MS;
for (;;) {
  const seq = Atomics.load(ctl, SEQ);
  if (seq < 0) break;
  if (seq !== last) {
    last = seq;
    claimPieces(seq);
    spinUntil = performance.now() + SPIN_MS;
    continue;
  }
  // Waking a sleeping thread costs up to a millisecond on a VM, so between the kernels of one map this thread
  // spins; after SPIN_MS without work it sleeps until the next job is published.
  for (let i = 0; i < 4096 && Atomics.load(ctl, SEQ) === last; i++);
  if (Atomics.load(ctl, SEQ) === last && performance.now() > spinUntil) {
    Atomics.store(ctl, SLEEPING, 1);
    if (Atomics.load(ctl, SEQ) === last) Atomics.wait(ctl, SEQ, last);
    Atomics.store(ctl, SLEEPING, 0);
    spinUntil = performance.now() + SPIN_MS;
  }
}
