/** The engine client's request and result types, its error, and the environment a forked engine gets. */
import type {
  EngineMessage, EngineRequest, ErrorKind, ExplainResult, FeatureVisResult, LayerInfo, PredictResult,
} from '../shared/protocol';

/** A request that produces a result (not a cancel or a shutdown). */
export type WorkRequest = Exclude<EngineRequest, { type: 'cancel' } | { type: 'shutdown' }>;
/** The request types that produce a result. */
export type RequestType = WorkRequest['type'];
/** The parameters of each request type. */
export type ParamsOf<T extends RequestType> = Extract<WorkRequest, { type: T }>['params'];
/** The result of each request type. */
export interface ResultOf {
  predict: PredictResult;
  explain: ExplainResult;
  layers: LayerInfo[];
  labels: string[];
  visualizeFilters: FeatureVisResult;
  dream: FeatureVisResult;
}

/** The engine's answer type for each request type. */
export const RESULT_TYPES: Record<RequestType, EngineMessage['type']> = {
  predict: 'predictResult', explain: 'explainResult', layers: 'layersResult', labels: 'labelsResult',
  visualizeFilters: 'visualizeFiltersResult', dream: 'dreamResult',
};

/** An error answered by the engine or raised by the client (crash, hang, failed start); one line. */
export class EngineError extends Error {
  /** 'cancelled' when the user cancelled, 'bad-input' for the user's files/options, 'internal' otherwise. */
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = 'EngineError';
    this.kind = kind;
  }
}

/** The engine settings a process is started with: backend, wasm threads, gradient workers and kernel threads. */
export interface EngineEnv {
  SALIENCY_LENS_BACKEND: string;
  SALIENCY_LENS_THREADS: string;
  SALIENCY_LENS_WORKERS: string;
  SALIENCY_LENS_KERNEL_WORKERS: string;
}

/**
 * The variables for a backend preference ('' or 'auto': the engine chooses), a wasm thread count, a gradient
 * worker count and a kernel thread count (undefined: automatic). All are always set, so a value inherited from
 * VS Code's own environment never outranks the settings.
 */
export function engineEnv(backend: string, threads: number | undefined, workers: number | undefined, kernelThreads?: number): EngineEnv {
  const count = (n: number | undefined): string => (n === undefined ? '' : String(n));
  return {
    SALIENCY_LENS_BACKEND: backend === 'auto' ? '' : backend,
    SALIENCY_LENS_THREADS: count(threads),
    SALIENCY_LENS_WORKERS: count(workers),
    SALIENCY_LENS_KERNEL_WORKERS: count(kernelThreads),
  };
}

/** A one-line description of the settings of an engine process, for the log ('' when all automatic). */
export function describeEnv(env: EngineEnv): string {
  const parts = [
    env.SALIENCY_LENS_BACKEND && `backend ${env.SALIENCY_LENS_BACKEND}`,
    env.SALIENCY_LENS_THREADS && `${env.SALIENCY_LENS_THREADS} wasm thread(s)`,
    env.SALIENCY_LENS_WORKERS && `${env.SALIENCY_LENS_WORKERS} gradient worker(s)`,
    env.SALIENCY_LENS_KERNEL_WORKERS && `${env.SALIENCY_LENS_KERNEL_WORKERS} kernel thread(s)`,
  ];
  return parts.filter(Boolean).join(', ');
}
