/**
 * Client of the engine process: starts it on first use, sends one request at a time, reports progress,
 * cancels, and turns a crash or a hang into a one-line error; the next request starts a fresh process.
 * It has no dependency on `vscode` so it can be unit-tested with a fake engine script.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { oneLine } from '../shared/errors';
import type { BackendName, EngineMessage, EngineRequest, FilterImage } from '../shared/protocol';
import {
  describeEnv, EngineError, engineEnv, RESULT_TYPES, type EngineEnv, type ParamsOf, type RequestType, type ResultOf, type WorkRequest,
} from './engineTypes';

export { EngineError, type ParamsOf, type RequestType, type ResultOf } from './engineTypes';

/** How the client starts and watches the engine. */
export interface EngineClientOptions {
  /** Path of the bundled engine entry (dist/engine.js). */
  enginePath: string;
  /** Backend preference passed as SALIENCY_LENS_BACKEND ('' or 'auto' lets the engine choose). */
  backend?: () => string;
  /** wasm threads passed as SALIENCY_LENS_THREADS (undefined: automatic); a change restarts the engine at the next request. */
  threads?: () => number | undefined;
  /** Gradient helper threads passed as SALIENCY_LENS_WORKERS (undefined: automatic); a change restarts the engine at the next request. */
  workers?: () => number | undefined;
  /** Kernel threads passed as SALIENCY_LENS_KERNEL_WORKERS (undefined: automatic); a change restarts the engine at the next request. */
  kernelThreads?: () => number | undefined;
  /** Silence (ms) from the engine during a request after which it counts as hung; 0 disables. */
  requestTimeoutMs: () => number;
  /** How long the engine may take to send `ready`. */
  startupTimeoutMs?: number;
  /** How long a cancelled request may take to stop before the process is killed. */
  cancelGraceMs?: number;
  /** Receives one line per event worth logging. */
  log: (line: string) => void;
  /** Called each time an engine process reports ready. */
  onReady?: (backend: BackendName, pid: number) => void;
}

/** Per-request hooks. */
export interface RequestOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
  /** Intermediate images of a visualizeFilters / dream request. */
  onImages?: (step: number, steps: number, images: FilterImage[]) => void;
  /** Called when the request goes to a ready engine (after any process start and queued requests). */
  onSent?: () => void;
}

interface Pending {
  id: number;
  request: WorkRequest;
  opts: RequestOptions;
  resolve: (value: unknown) => void;
  reject: (err: EngineError) => void;
  sent: boolean;
  settled: boolean;
  startedAt: number;
  cancelTimer?: NodeJS.Timeout;
  detachAbort?: () => void;
}

interface Running {
  child: ChildProcess;
  ready: Promise<void>;
  /** The settings it was started with: when they change, the next request gets a fresh process. */
  env: EngineEnv;
  /** Last log/stderr line: the best explanation when the process dies. */
  lastWords: string;
  /** Set when we stop the process on purpose, so its exit is not reported as a crash. */
  stopping: boolean;
  /** Set by restart(): a request waiting for this process is sent to the next one instead. */
  requeue: boolean;
  /** Rejects `ready` (startup failure or stop). */
  fail: (err: EngineError) => void;
}

/** Talks to one engine process at a time over Node IPC (advanced serialisation). */
export class EngineClient {
  private running: Running | undefined;
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private nextId = 1;
  private hangTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** The backend reported by the current process, if it is ready. */
  backend: BackendName | undefined;
  /** Number of requests sent to an engine process so far (shown in logs, used by tests). */
  requestsSent = 0;

  constructor(private readonly opts: EngineClientOptions) {}

  /** True while an engine process exists. */
  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Queues a request; resolves with its result or rejects with an EngineError. */
  request<T extends RequestType>(type: T, params: ParamsOf<T>, opts: RequestOptions = {}): Promise<ResultOf[T]> {
    if (this.disposed) return Promise.reject(new EngineError('cancelled', 'Saliency Lens is shutting down'));
    return new Promise<ResultOf[T]>((resolve, reject) => {
      const id = this.nextId++;
      const pending: Pending = {
        id,
        request: { type, id, params } as WorkRequest,
        opts,
        resolve: resolve as (v: unknown) => void,
        reject,
        sent: false,
        settled: false,
        startedAt: Date.now(),
      };
      if (opts.signal) {
        if (opts.signal.aborted) {
          reject(new EngineError('cancelled', 'cancelled'));
          return;
        }
        const onAbort = (): void => this.cancel(pending);
        opts.signal.addEventListener('abort', onAbort, { once: true });
        pending.detachAbort = () => opts.signal?.removeEventListener('abort', onAbort);
      }
      this.queue.push(pending);
      this.pump();
    });
  }

  /** Stops the current process (e.g. the backend setting changed); the next request starts a new one. */
  restart(reason: string): void {
    const cur = this.current;
    if (cur && cur.sent && !cur.settled) {
      this.stopProcess(reason, true);
      this.finishCurrent(cur, new EngineError('internal', `the engine was restarted (${reason}); run the request again`));
      return;
    }
    // A request still waiting for the old process to start moves to the new one.
    if (this.running) this.running.requeue = true;
    this.stopProcess(reason, true);
  }

  /** Stops the engine process (politely, then by force) and fails everything pending. */
  dispose(): void {
    this.disposed = true;
    for (const p of [...this.queue, ...(this.current ? [this.current] : [])]) {
      this.settle(p, new EngineError('cancelled', 'Saliency Lens is shutting down'));
    }
    this.queue.length = 0;
    this.stopProcess('shutdown', true);
  }

  private pump(): void {
    if (this.current || this.disposed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.current = next;
    let running: Running;
    try {
      running = this.ensureProcess();
    } catch (err) {
      this.finishCurrent(next, new EngineError('internal', `the engine could not be started: ${oneLine(err)}`));
      return;
    }
    running.ready.then(
      () => {
        if (next.settled || this.current !== next) return;
        if (this.running !== running) {
          // The process died between becoming ready and now: send this request to a fresh one.
          this.current = undefined;
          this.queue.unshift(next);
          this.pump();
          return;
        }
        next.sent = true;
        this.requestsSent++;
        running.child.send(next.request);
        next.opts.onSent?.();
        this.armHangTimer();
      },
      (err: unknown) => {
        if (next.settled || this.current !== next) return;
        if (running.requeue && !this.disposed) {
          this.current = undefined;
          this.queue.unshift(next);
          this.pump();
          return;
        }
        this.finishCurrent(next, err instanceof EngineError ? err : new EngineError('internal', oneLine(err)));
      },
    );
  }

  private ensureProcess(): Running {
    const env = engineEnv(this.opts.backend?.() ?? '', this.opts.threads?.(), this.opts.workers?.(), this.opts.kernelThreads?.());
    if (this.running && !sameEnv(this.running.env, env)) {
      // Only reached between requests (pump runs one at a time), so no work is interrupted.
      this.stopProcess(`engine settings changed to ${describeEnv(env) || 'automatic'}`, true);
    }
    if (this.running) return this.running;
    const child = fork(this.opts.enginePath, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // The extension host may run with inspector flags; the engine must not inherit them.
      execArgv: [],
      // Inside desktop VS Code process.execPath is Electron: make it behave as plain Node.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...env },
    });
    let markReady!: () => void;
    let failStart!: (err: EngineError) => void;
    const ready = new Promise<void>((res, rej) => { markReady = res; failStart = rej; });
    // Callers attach handlers later; avoid an unhandled rejection if nobody is waiting any more.
    ready.catch(() => undefined);
    const running: Running = { child, ready, env, lastWords: '', stopping: false, requeue: false, fail: (err) => failStart(err) };
    this.running = running;
    const settings = describeEnv(env);
    this.opts.log(`starting engine ${this.opts.enginePath}${settings ? ` (${settings})` : ''}`);

    const startupTimer = setTimeout(() => {
      this.opts.log(`engine did not become ready within ${(this.startupTimeoutMs / 1000).toFixed(0)} s`);
      // Rejects `ready` first (its handlers run later, after the process is gone) for the better message.
      failStart(new EngineError('internal', `the engine did not start within ${(this.startupTimeoutMs / 1000).toFixed(0)} s; it will be restarted on the next request`));
      this.stopProcess('startup timeout', false);
    }, this.startupTimeoutMs);

    const onLine = (stream: string) => (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split(/\r?\n/)) {
        if (!line.trim()) continue;
        running.lastWords = line.trim();
        this.opts.log(`[engine ${stream}] ${line}`);
      }
    };
    child.stdout?.on('data', onLine('stdout'));
    child.stderr?.on('data', onLine('stderr'));

    child.on('message', (msg: EngineMessage) => {
      if (this.running !== running) return;
      if (msg.type === 'ready') {
        clearTimeout(startupTimer);
        this.backend = msg.backend;
        this.opts.log(`engine ready: backend ${msg.backend}, pid ${msg.pid}`);
        this.opts.onReady?.(msg.backend, msg.pid);
        markReady();
        return;
      }
      if (msg.type === 'log') {
        running.lastWords = msg.message;
        this.opts.log(`[engine] ${msg.message}`);
        this.armHangTimer();
        return;
      }
      this.onReply(msg);
    });
    child.on('error', (err) => {
      // Spawn failures surface here (and possibly no 'exit'): treat as a dead process.
      this.opts.log(`engine process error: ${err.message}`);
      clearTimeout(startupTimer);
      this.onExit(running, null, null, err.message, failStart);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(startupTimer);
      this.onExit(running, code, signal, undefined, failStart);
    });
    return running;
  }

  private get startupTimeoutMs(): number {
    return this.opts.startupTimeoutMs ?? 60_000;
  }

  private onReply(msg: EngineMessage): void {
    const cur = this.current;
    if (!('id' in msg) || !cur || msg.id !== cur.id) return;
    if (msg.type === 'progress' || msg.type === 'filterImages') {
      this.armHangTimer();
      if (msg.type === 'progress') cur.opts.onProgress?.(msg.fraction, msg.message);
      else cur.opts.onImages?.(msg.step, msg.steps, msg.images);
      return;
    }
    if (msg.type === 'error') {
      this.finishCurrent(cur, new EngineError(msg.kind, msg.message));
      return;
    }
    if (msg.type === RESULT_TYPES[cur.request.type] && 'result' in msg) {
      this.finishCurrent(cur, undefined, msg.result);
    }
  }

  private onExit(running: Running, code: number | null, signal: NodeJS.Signals | null, spawnError: string | undefined,
    failStart: (err: EngineError) => void): void {
    if (this.running !== running) return;
    this.running = undefined;
    this.backend = undefined;
    this.clearHangTimer();
    const how = spawnError ?? (signal ? `signal ${signal}` : `exit code ${code}`);
    const why = running.lastWords ? ` (${running.lastWords})` : '';
    if (!running.stopping) this.opts.log(`engine process stopped unexpectedly: ${how}${why}`);
    failStart(new EngineError('internal', `the engine failed to start: ${how}${why}`));
    const cur = this.current;
    if (cur && cur.sent && !cur.settled) {
      // A stop we caused ourselves already settled the request with a better message.
      this.finishCurrent(cur, new EngineError('internal', `the engine stopped unexpectedly (${how}); it will restart on the next request`));
    } else {
      this.pump();
    }
  }

  private cancel(p: Pending): void {
    if (p.settled) return;
    const queued = this.queue.indexOf(p);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(p, new EngineError('cancelled', 'cancelled'));
      return;
    }
    if (this.current !== p) return;
    if (!p.sent || !this.running) {
      this.finishCurrent(p, new EngineError('cancelled', 'cancelled'));
      return;
    }
    this.running.child.send({ type: 'cancel', id: p.id } satisfies EngineRequest);
    // TF.js work can keep the engine's event loop busy; if it does not stop soon, stop the process.
    const grace = this.opts.cancelGraceMs ?? 3000;
    p.cancelTimer = setTimeout(() => {
      if (p.settled || this.current !== p) return;
      this.opts.log(`engine did not stop request ${p.id} within ${grace} ms of the cancel; stopping the process`);
      // Stop first so that the next queued request starts a fresh process instead of the busy one.
      this.stopProcess('cancel timeout', false);
      this.finishCurrent(p, new EngineError('cancelled', 'cancelled'));
    }, grace);
  }

  private finishCurrent(p: Pending, err?: EngineError, value?: unknown): void {
    this.settle(p, err, value);
    if (this.current === p) {
      this.current = undefined;
      this.clearHangTimer();
    }
    this.pump();
  }

  private settle(p: Pending, err?: EngineError, value?: unknown): void {
    if (p.settled) return;
    p.settled = true;
    if (p.cancelTimer) clearTimeout(p.cancelTimer);
    p.detachAbort?.();
    const ms = Date.now() - p.startedAt;
    if (err) {
      if (err.kind !== 'cancelled') this.opts.log(`request ${p.id} (${p.request.type}) failed after ${ms} ms: ${err.kind}: ${err.message}`);
      else this.opts.log(`request ${p.id} (${p.request.type}) cancelled after ${ms} ms`);
      p.reject(err);
    } else {
      this.opts.log(`request ${p.id} (${p.request.type}) answered in ${ms} ms`);
      p.resolve(value);
    }
  }

  private armHangTimer(): void {
    this.clearHangTimer();
    const cur = this.current;
    const limit = this.opts.requestTimeoutMs();
    if (!cur || !cur.sent || !(limit > 0)) return;
    this.hangTimer = setTimeout(() => {
      if (this.current !== cur || cur.settled) return;
      const secs = Math.round(limit / 1000);
      this.opts.log(`engine silent for ${secs} s during request ${cur.id}; stopping it`);
      this.stopProcess('hang', false);
      this.finishCurrent(cur, new EngineError('internal', `the engine did not respond for ${secs} s and was stopped; it will restart on the next request`));
    }, limit);
  }

  private clearHangTimer(): void {
    if (this.hangTimer) clearTimeout(this.hangTimer);
    this.hangTimer = undefined;
  }

  /** Stops the current process: a polite `shutdown` when asked, SIGKILL otherwise or if it lingers. */
  private stopProcess(reason: string, polite: boolean): void {
    const running = this.running;
    if (!running) return;
    running.stopping = true;
    running.fail(new EngineError('internal', `the engine was stopped (${reason})`));
    this.running = undefined;
    this.backend = undefined;
    this.opts.log(`stopping engine (${reason})`);
    const { child } = running;
    if (polite && child.connected) {
      try { child.send({ type: 'shutdown' } satisfies EngineRequest); } catch { /* already gone */ }
      setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); }, 2000).unref();
    } else {
      child.kill('SIGKILL');
    }
  }
}

function sameEnv(a: EngineEnv, b: EngineEnv): boolean {
  return (Object.keys(a) as (keyof EngineEnv)[]).every((k) => a[k] === b[k]);
}
