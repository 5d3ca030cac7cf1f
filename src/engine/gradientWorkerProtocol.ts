/** Messages between the engine's thread and its gradient helper threads (engine-internal, structured-cloned). */
import type { BackendName } from '../shared/protocol';
import type { Chunk } from './methods/chunkRunner';
import type { GradientJob } from './methods/gradientJob';

/** What a helper thread starts with. */
export interface GradientWorkerData {
  backend: BackendName;
  /** The engine's wasm threads: the helper makes the same kernel choices, so its sums are bit-identical. */
  engineThreads: number;
}

/** Engine → helper: take part in a job. `claims` is shared: [next chunk index, cancelled]. */
export interface JobMessage {
  type: 'job';
  id: number;
  modelPath: string;
  /** The modification time of the engine's copy: a helper never computes with a different model file. */
  mtimeMs: number;
  job: GradientJob;
  chunks: Chunk[];
  claims: Int32Array;
}

/** Engine → helper: load a model ahead of its first job. */
export interface LoadMessage {
  type: 'load';
  id: number;
  modelPath: string;
  mtimeMs: number;
  /** A job whose first pass the helper computes once loaded, so that its kernel variants are built before a job needs them. */
  warmUp?: GradientJob;
}

/** Engine → helper messages. */
export type EngineToHelper = JobMessage | LoadMessage;

/** Helper → engine messages, discriminated on `type`. */
export type HelperMessage =
  /** The sums of one chunk, as chunkSums returns them. */
  | { type: 'chunk'; id: number; index: number; sums: Float32Array[] }
  /** The model of load request `id` is ready. */
  | { type: 'loaded'; id: number }
  /** The helper stopped claiming chunks of job `id`. */
  | { type: 'done'; id: number }
  /** The helper could not take part (the model failed to load, a kernel threw): it stops. */
  | { type: 'failed'; id: number; message: string };
