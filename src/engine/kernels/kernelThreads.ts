/**
 * Kernel threads: our wasm kernels (GEMMs, Winograd transforms, im2col) split across the engine's thread and
 * worker threads that instantiate the same module on the wasm backend's shared memory. One map is a single
 * forward and backward pass that gradient helpers cannot split, so this is how it uses a second core.
 * Each job is a list of pieces (argument lists of one kernel, writing disjoint outputs); the threads claim
 * pieces from one counter, so a piece's values do not depend on which thread ran it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** Control block layout (Int32 slots), shared with kernelThreadWorker.cjs. */
const LAYOUT = {
  SEQ: 0, // job number, -1 to stop
  CLAIM: 1, // (job number << 8) | next piece
  DONE: 2, // pieces finished
  FN: 3, // index of the kernel in `names`
  PIECES: 4,
  SLEEPING: 5,
  FAILED: 6, // 1 + the piece a worker failed on
  READY: 7,
  WORKER_PIECES: 8, // pieces the workers ran, ever
  FAULT: 9, // tests: 1 makes a worker throw in its next piece, 2 makes it hang there
  ARGS: 16,
  ARGS_PER_PIECE: 20,
  /** How long an idle worker spins before it sleeps: longer than the gaps between our kernels in one pass. */
  SPIN_MS: 20,
};
/** The most pieces one job may have (the claim counter keeps the piece in 8 bits). */
export const MAX_PIECES = 32;
/** How long the engine's thread waits for a worker's piece before giving up on kernel threads. */
const STALL_MS = 5_000;

/** Our compiled kernels module, the memory it was instantiated on, its export names and this thread's instance. */
export interface KernelModule {
  memory: { buffer: ArrayBuffer | SharedArrayBuffer };
  module: object;
  names: string[];
  run: Record<string, (...args: number[]) => void>;
}

let wanted = 0;
let gate: () => boolean = () => true;
let pool: KernelThreadPool | undefined;
let disabledReason: string | undefined;

/** Sets how many worker threads our kernels may use beside the engine's thread (0: none). Call before the first job. */
export function setKernelWorkers(count: number): void {
  wanted = count;
}

/** Kernel threads run only while `open()` holds: gradient helpers computing on the other cores close it. */
export function setKernelThreadsGate(open: () => boolean): void {
  gate = open;
}

/**
 * Threads that can take pieces of a job on `kernels` now: 1 + the ready workers, or 1 while they start (the first
 * call starts them), are paused by the gate, or are unavailable.
 */
function kernelThreadsFor(kernels: KernelModule): number {
  if (wanted === 0 || disabledReason || !gate()) return 1;
  pool ??= startPool(kernels);
  return pool?.ready() && pool.memory === kernels.memory ? 1 + pool.size : 1;
}

/** Pieces the kernel threads' workers have run since they started (0 if they never ran). */
export function kernelWorkerPieces(): number {
  return pool ? pool.workerPieces() : 0;
}

/** Worker threads asked for beside the engine's thread (the pool starts at the first job big enough to split). */
export function kernelWorkersWanted(): number {
  return disabledReason ? 0 : wanted;
}

/** Why kernel threads are off although asked for (for --debug), if they are. */
export function kernelThreadsNote(): string | undefined {
  return disabledReason;
}

/** Tests: makes the next piece a worker takes throw, as a trap inside a kernel would, or never finish. */
export function injectKernelThreadFault(kind: 'throw' | 'hang' = 'throw'): void {
  if (pool) pool.injectFault(kind === 'throw' ? 1 : 2);
}

/** Kernel thread workers that have not exited (a stalled one is stopped). */
export function kernelWorkersAlive(): number {
  return pool ? pool.alive : 0;
}

/** Stops the workers (tests; the engine process exits with them unref'd). */
export function stopKernelThreads(): void {
  pool?.stop();
  pool = undefined;
}

/**
 * Runs kernel `name` of `kernels` once per piece (each an argument list), across the kernel threads when they
 * are running, else on this thread in order. Pieces must write disjoint memory.
 */
export function runPieces(kernels: KernelModule, name: string, pieces: number[][]): void {
  if (pieces.length > 1 && kernelThreadsFor(kernels) > 1) {
    pool!.run(name, pieces);
    return;
  }
  const fn = kernels.run[name];
  for (const args of pieces) fn(...args);
}

/** Below this many multiply-adds (or comparable flops) a kernel runs as one piece: splitting costs more than it saves. */
const MIN_SPLIT_MACS = 1e6;

/** [lo, hi) ranges splitting `count` items for the active kernel threads (one range when they are off). */
export function splitRange(count: number, macs: number, threads: number): [number, number][] {
  if (threads === 1 || macs < MIN_SPLIT_MACS) return [[0, count]];
  // A few pieces per thread, so a thread that starts late takes fewer of them.
  const pieces = Math.min(count, 8 * threads);
  return Array.from({ length: pieces }, (_, p) => [Math.floor((p * count) / pieces), Math.floor(((p + 1) * count) / pieces)]);
}

/** How a job of `macs` multiply-adds on `kernels` splits: count → [lo, hi) ranges for the threads that can take pieces now. */
export function splitFor(kernels: KernelModule, macs: number): (count: number) => [number, number][] {
  const threads = kernelThreadsFor(kernels);
  return (count) => splitRange(count, macs, threads);
}

function startPool(kernels: KernelModule): KernelThreadPool | undefined {
  if (!(kernels.memory.buffer instanceof SharedArrayBuffer)) {
    disabledReason = 'the wasm backend memory is not shared (single-threaded build)';
    return undefined;
  }
  try {
    return new KernelThreadPool(kernels, wanted);
  } catch (err) {
    disabledReason = `kernel threads did not start: ${err instanceof Error ? err.message : String(err)}`;
    return undefined;
  }
}

function workerFile(): string {
  const bundled = join(__dirname, 'kernel-thread-worker.js');
  return existsSync(bundled) ? bundled : join(__dirname, 'kernelThreadWorker.cjs');
}

/** The workers and their control block. */
class KernelThreadPool {
  readonly memory: KernelModule['memory'];
  private readonly ctl = new Int32Array(new SharedArrayBuffer((LAYOUT.ARGS + MAX_PIECES * LAYOUT.ARGS_PER_PIECE) * 4));
  private readonly workers: Worker[] = [];
  private readonly kernels: KernelModule;
  private seq = 0;
  /** Workers that have not exited. */
  alive = 0;

  constructor(kernels: KernelModule, readonly size: number) {
    this.kernels = kernels;
    this.memory = kernels.memory;
    for (let i = 0; i < size; i++) {
      const worker = new Worker(workerFile(), {
        workerData: { memory: kernels.memory, compiled: kernels.module, control: this.ctl.buffer, layout: LAYOUT, names: kernels.names },
        resourceLimits: { maxYoungGenerationSizeMb: 1 },
      });
      worker.unref();
      worker.on('error', (err) => this.fail(`a kernel thread failed: ${err.message}`));
      worker.on('exit', () => {
        this.alive--;
        this.fail('a kernel thread exited');
      });
      this.workers.push(worker);
      this.alive++;
    }
  }

  injectFault(kind: number): void {
    Atomics.store(this.ctl, LAYOUT.FAULT, kind);
  }

  workerPieces(): number {
    return Atomics.load(this.ctl, LAYOUT.WORKER_PIECES);
  }

  ready(): boolean {
    return !disabledReason && Atomics.load(this.ctl, LAYOUT.READY) === 1;
  }

  run(name: string, pieces: number[][]): void {
    const ctl = this.ctl;
    const fn = this.kernels.names.indexOf(name);
    const count = Math.min(pieces.length, MAX_PIECES);
    for (let p = 0; p < count; p++) ctl.set(pieces[p], LAYOUT.ARGS + p * LAYOUT.ARGS_PER_PIECE);
    ctl[LAYOUT.FN] = fn;
    ctl[LAYOUT.PIECES] = count;
    Atomics.store(ctl, LAYOUT.DONE, 0);
    this.seq = (this.seq + 1) & 0x7fffff;
    Atomics.store(ctl, LAYOUT.CLAIM, this.seq << 8);
    Atomics.store(ctl, LAYOUT.SEQ, this.seq);
    if (Atomics.load(ctl, LAYOUT.SLEEPING)) Atomics.notify(ctl, LAYOUT.SEQ);
    const run = this.kernels.run[name];
    for (;;) {
      const claim = Atomics.load(ctl, LAYOUT.CLAIM);
      const piece = claim & 0xff;
      if (piece >= count) break;
      if (Atomics.compareExchange(ctl, LAYOUT.CLAIM, claim, claim + 1) !== claim) continue;
      run(...pieces[piece]);
      Atomics.add(ctl, LAYOUT.DONE, 1);
    }
    const start = performance.now();
    while (Atomics.load(ctl, LAYOUT.DONE) < count) {
      if (performance.now() - start > STALL_MS) {
        this.fail(`a kernel thread did not finish its piece within ${STALL_MS / 1000} s`);
        // Stopped, not abandoned: a late piece would write into memory the backend may have reused by then,
        // and a hung one would burn a core.
        for (const w of this.workers) void w.terminate();
        break;
      }
    }
    const failed = Atomics.load(ctl, LAYOUT.FAILED);
    if (failed) this.fail(`a kernel thread failed in a piece of ${name}`);
    if (failed || disabledReason) {
      // Recompute everything on this thread: a piece may be missing, and the values do not depend on who ran it.
      for (const args of pieces.slice(0, count)) run(...args);
    }
    for (const args of pieces.slice(count)) run(...args);
  }

  fail(reason: string): void {
    disabledReason ??= reason;
  }

  stop(): void {
    Atomics.store(this.ctl, LAYOUT.SEQ, -1);
    Atomics.notify(this.ctl, LAYOUT.SEQ);
    for (const w of this.workers) {
      w.removeAllListeners('exit');
      void w.terminate();
    }
  }
}
