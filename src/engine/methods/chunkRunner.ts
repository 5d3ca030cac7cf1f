/**
 * Runs a GradientJob in chunks of passes on the engine's thread and, when it pays off, on helper threads at
 * the same time (see ../gradientPool.ts). Both sides claim chunks from one shared counter; the chunk sums
 * are added in chunk order, so a map is the same whoever computed which chunk.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../model';
import { chunkSums, sumShape, type GradientJob } from './gradientJob';
import type { MethodContext } from './index';
import { autoBatchSize, BATCH_MEMORY_BUDGET, bytesPerImage, measuredStep, type AutoBatch } from './sampling';

/** Passes [start, start + size) of a job. */
export type Chunk = [start: number, size: number];

/** What the runner needs of a pool of helper threads. */
export interface GradientHelpers {
  /** Helpers that would take part in jobs on this model with passes of this cost (0: run alone). */
  helpersFor(model: LoadedModel, msPerPass: number): number;
  /** Of those, the ones holding the model now. */
  readyFor(model: LoadedModel): number;
  /** Starts the others loading the model and warming up on a pass of `job`, for a later job (the engine does not wait). */
  getReady(model: LoadedModel, job: GradientJob): void;
  /**
   * Starts the helpers on a job: each claims chunk indices with Atomics.add(claims, 0, 1) until none is left
   * or claims[1] is set (cancelled), and hands over each chunk's sums (as chunkSums returns them) to
   * `deliver`. Resolves once every helper has stopped taking part (finished, failed or died).
   */
  run(model: LoadedModel, job: GradientJob, chunks: Chunk[], claims: Int32Array, deliver: (index: number, sums: Float32Array[]) => void): Promise<void>;
}

/** The first chunk of a model whose cost is unknown: small, measured, and run before any helper starts. */
const PROBE_PASSES = 2;
/**
 * How far a probe's bytes per image may exceed what one side's share of the budget holds, with helpers still
 * used (one image per side): a probe of PROBE_PASSES counts the batch's fixed part (input, noise, sums) over
 * two images (ResNet-18: 81 MB per image against 67 for later batches). Running alone instead grows the
 * engine's wasm heap for good, and a helper that joins a later job adds its own: peak RSS 1000 MB against
 * 880 with the helper from the start.
 */
const PROBE_OVERESTIMATE = 0.85;

/** Per model and kind of pass, the fastest time of one pass seen on the engine's thread (ms). */
const passMs = new WeakMap<LoadedModel, Map<string, number>>();

function recordPassMs(model: LoadedModel, pass: string, ms: number): void {
  let byPass = passMs.get(model);
  if (!byPass) passMs.set(model, (byPass = new Map()));
  byPass.set(pass, Math.min(byPass.get(pass) ?? Infinity, ms));
}

/**
 * Splits passes [start, count) into chunks of at most `size`: balanced (sizes differing by at most one) or,
 * for a fixed batch, all of `size` but the last (so the plan is the same whichever chunk runs first).
 */
function plan(start: number, count: number, size: number, balanced: boolean): Chunk[] {
  const left = count - start;
  const parts = Math.ceil(left / Math.max(1, size));
  const chunks: Chunk[] = [];
  for (let i = 0, s = start; i < parts; i++) {
    const n = balanced ? Math.floor(left / parts) + (i < left % parts ? 1 : 0) : Math.min(size, count - s);
    chunks.push([s, n]);
    s += n;
  }
  return chunks;
}

/** Adds chunk sums in chunk order, holding the ones that arrive early. */
class OrderedSums {
  private next = 0;
  private readonly early = new Map<number, tf.Tensor[]>();
  totals: tf.Tensor[] | undefined;

  /** Whether chunk `index` has been added. */
  has(index: number): boolean {
    return index < this.next || this.early.has(index);
  }

  /** Adds the sums of a chunk not added before (taking ownership). */
  add(index: number, sums: tf.Tensor[]): void {
    this.early.set(index, sums);
    for (let part = this.early.get(this.next); part; part = this.early.get(this.next)) {
      this.early.delete(this.next++);
      const old = this.totals;
      this.totals = old ? part.map((t, i) => tf.keep(tf.add(old[i], t))) : part.map((t) => tf.keep(t));
      if (old) for (const t of [...old, ...part]) t.dispose();
    }
  }

  dispose(): void {
    for (const part of this.early.values()) for (const t of part) t.dispose();
    for (const t of this.totals ?? []) t.dispose();
    this.early.clear();
    this.totals = undefined;
  }
}

/** How the passes are batched: a fixed size, or automatic for a kind of pass. */
export type JobBatch = number | AutoBatch;

/**
 * The job's sums over all passes, shaped as sumShape(job): Σ wₖ gₖ, then Σ gₖ² if asked for (gradient jobs),
 * or the target logit of every pass (score jobs). Reports progress and honours cancellation between chunks;
 * memory stays bounded by one chunk per thread.
 */
export async function runGradientJob(model: LoadedModel, job: GradientJob, batch: JobBatch, ctx: MethodContext,
  label: string): Promise<tf.Tensor[]> {
  const pass = `${job.kind} ${typeof batch === 'number' ? `fixed ${batch}` : batch.pass}`;
  const sums = new OrderedSums();
  let done = 0;
  let chunkCount = Infinity;
  let delivered = 0;
  let allDelivered: () => void = () => undefined;
  const everyChunk = new Promise<void>((resolve) => (allDelivered = resolve));
  // Set when the job has returned or thrown: a helper's chunk arriving later is dropped.
  let closed = false;
  const deliver = (index: number, chunk: Chunk, parts: tf.Tensor[]): void => {
    if (closed || sums.has(index)) return void parts.forEach((t) => t.dispose());
    sums.add(index, parts);
    done += chunk[1];
    if (++delivered >= chunkCount) allDelivered();
    ctx.onProgress?.(Math.min(1, done / job.count), `${label} ${done}/${job.count}`);
  };
  const runLocal = async (index: number, chunk: Chunk): Promise<void> => {
    const t0 = performance.now();
    let parts: tf.Tensor[] = [];
    const compute = (): void => void (parts = chunkSums(model, job, chunk[0], chunk[1]));
    if (typeof batch === 'number') compute();
    else await measuredStep(batch, chunk[1], compute);
    recordPassMs(model, pass, (performance.now() - t0) / chunk[1]);
    deliver(index, chunk, parts);
    // Helpers' messages (chunks, a loaded model) are events: they arrive only when this thread yields.
    await (ctx.checkpoint ? ctx.checkpoint() : new Promise<void>((resolve) => setImmediate(resolve)));
  };
  const claims = new Int32Array(new SharedArrayBuffer(8));
  let getReadyAfter = false;
  try {
    let first: Chunk | undefined;
    const unknownCost = passMs.get(model)?.get(pass) === undefined || (typeof batch !== 'number' && bytesPerImage(model, batch.pass) === undefined);
    if (unknownCost) {
      // A fixed batch's plan does not depend on the probe; an automatic one's is sized by it.
      first = [0, Math.min(job.count, typeof batch === 'number' ? batch : PROBE_PASSES)];
      claims[0] = 1;
      await runLocal(0, first);
    }
    const start = first ? first[1] : 0;
    let helpers = start < job.count ? ctx.helpers?.helpersFor(model, passMs.get(model)?.get(pass) ?? 0) ?? 0 : 0;
    let size = typeof batch === 'number' ? batch : autoBatchSize(batch);
    if (helpers > 0 && typeof batch !== 'number') {
      // Each helper holds a copy of the model (weights and cached kernel variants) and a batch of its own.
      // Batches are sized for them even while they are not ready: the wasm heap never shrinks.
      const budget = batch.budget ?? BATCH_MEMORY_BUDGET;
      const perSide = (budget - helpers * model.residentBytes()) / (1 + helpers);
      const perImage = bytesPerImage(model, batch.pass) ?? Infinity;
      if (perSide < perImage * PROBE_OVERESTIMATE) helpers = 0;
      else size = autoBatchSize({ ...batch, budget: perSide });
    }
    // With no helper ready, this job runs on the engine and its kernel threads, which a loading helper would
    // pause (it would starve beside them at its lower priority); helpers get ready when the job ends.
    getReadyAfter = helpers > 0 && ctx.helpers!.readyFor(model) === 0;
    // The probe is chunk 0 of the plan, so chunk indices stay in pass order.
    const balanced = typeof batch !== 'number';
    const chunks = first ? [first, ...plan(start, job.count, size, balanced)] : plan(0, job.count, size, balanced);
    chunkCount = chunks.length;
    let helped: Promise<void> | undefined;
    const joinHelpers = (): void => {
      // Helpers still loading the model join between chunks, once ready.
      if (helped || helpers === 0 || claims[0] >= chunks.length || ctx.helpers!.readyFor(model) === 0) return;
      helped = ctx.helpers!.run(model, job, chunks, claims, (index, arrays) => {
        if (!closed) deliver(index, chunks[index], arrays.map((a) => tf.tensor4d(a, sumShape(job))));
      });
    };
    joinHelpers();
    for (let index = Atomics.add(claims, 0, 1); index < chunks.length; index = Atomics.add(claims, 0, 1)) {
      await runLocal(index, chunks[index]);
      joinHelpers();
    }
    // The helpers' last chunks are in flight, unless a helper stopped without delivering what it claimed
    // (it failed or died): those chunks are computed here.
    if (helped && delivered < chunkCount) await Promise.race([everyChunk, helped]);
    for (let index = 0; index < chunks.length; index++) if (!sums.has(index)) await runLocal(index, chunks[index]);
    if (!sums.totals) throw new Error(`${label}: no passes were computed`);
    const totals = sums.totals;
    sums.totals = undefined;
    return totals;
  } catch (err) {
    Atomics.store(claims, 1, 1);
    throw err;
  } finally {
    closed = true;
    sums.dispose();
    if (getReadyAfter) ctx.helpers!.getReady(model, job);
  }
}
