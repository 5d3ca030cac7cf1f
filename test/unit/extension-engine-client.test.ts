import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { EngineClient, EngineError, type EngineClientOptions } from '../../src/extension/engineClient';
import type { ExplainParams } from '../../src/shared/protocol';

const FAKE = fileURLToPath(new URL('./extension-fake-engine.cjs', import.meta.url));

const clients: EngineClient[] = [];
afterEach(() => {
  while (clients.length) clients.pop()!.dispose();
  delete process.env.FAKE_ENGINE_START;
});

function client(over: Partial<EngineClientOptions> = {}): { c: EngineClient; logs: string[]; pids: number[] } {
  const logs: string[] = [];
  const pids: number[] = [];
  const c = new EngineClient({
    enginePath: FAKE,
    requestTimeoutMs: () => 2000,
    log: (l) => logs.push(l),
    onReady: (_b, pid) => pids.push(pid),
    ...over,
  });
  clients.push(c);
  return { c, logs, pids };
}

function params(imagePath: string): ExplainParams {
  return { imagePath, modelPath: '/m/model.json', method: 'vanilla' };
}

async function rejectsWith(p: Promise<unknown>, kind: string, re?: RegExp): Promise<EngineError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected EngineError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    if (re) assert.match(err.message, re);
    assert.ok(!err.message.includes('\n'), 'error messages are one line');
    return err;
  }
  assert.fail('expected a rejection');
}

describe('EngineClient', () => {
  it('starts lazily, passes the backend, and answers with ArrayBuffers intact', async () => {
    const { c, logs } = client({ backend: () => 'wasm' });
    assert.equal(c.isRunning, false);
    const r = await c.request('explain', params('/img/ok.png'));
    assert.equal(c.isRunning, true);
    assert.equal(c.backend, 'wasm');
    assert.ok(r.attribution.data instanceof ArrayBuffer);
    assert.equal(new Float32Array(r.attribution.data).length, 4 * 3 * 3);
    assert.equal(r.target.label, 'cat');
    assert.ok(logs.some((l) => l.includes('engine ready: backend wasm')));
  });

  it('queues requests and answers them in order, one at a time, with progress', async () => {
    const { c } = client();
    const order: string[] = [];
    const progress: number[] = [];
    const a = c.request('explain', params('/slow/a.png'), { onProgress: (f) => progress.push(f) }).then(() => order.push('a'));
    const b = c.request('labels', { modelPath: '/m/model.json' }).then((l) => order.push(`b:${l.join(',')}`));
    const d = c.request('explain', params('/d.png')).then(() => order.push('d'));
    await Promise.all([a, b, d]);
    assert.deepEqual(order, ['a', 'b:dog,cat', 'd']);
    assert.equal(progress.length, 10);
    assert.equal(progress.at(-1), 1);
    assert.equal(c.requestsSent, 3);
  });

  it('tells when a request reaches the engine: after the process is ready and the requests ahead of it', async () => {
    process.env.FAKE_ENGINE_START = 'slow';
    const { c } = client();
    const events: string[] = [];
    const t0 = Date.now();
    let firstSent = 0;
    const a = c.request('explain', params('/slow/a.png'), { onSent: () => { firstSent = Date.now(); events.push('a sent'); } })
      .then(() => events.push('a done'));
    const b = c.request('explain', params('/b.png'), { onSent: () => events.push('b sent') }).then(() => events.push('b done'));
    const ac = new AbortController();
    const never = c.request('explain', params('/c.png'), { signal: ac.signal, onSent: () => events.push('c sent') });
    ac.abort();
    await Promise.all([a, b, never.catch(() => undefined)]);
    assert.deepEqual(events, ['a sent', 'a done', 'b sent', 'b done'], 'once each, in order; never for a request cancelled in the queue');
    assert.ok(firstSent - t0 >= 150, `the first request waited for the engine to start (${firstSent - t0} ms)`);
  });

  it('relays engine errors with their kind', async () => {
    const { c } = client();
    await rejectsWith(c.request('explain', params('/img/bad.png')), 'bad-input', /not an image/);
    // The process survives a bad-input error.
    const r = await c.request('explain', params('/img/ok.png'));
    assert.equal(r.method, 'vanilla');
  });

  it('cancels a running request through the engine', async () => {
    const { c } = client();
    const ac = new AbortController();
    const p = c.request('explain', params('/slow/x.png'), { signal: ac.signal, onProgress: () => ac.abort() });
    await rejectsWith(p, 'cancelled');
    assert.equal(c.isRunning, true, 'a cooperative cancel keeps the process');
  });

  it('cancels a queued request without sending it', async () => {
    const { c } = client();
    const ac = new AbortController();
    const first = c.request('explain', params('/slow/a.png'));
    const second = c.request('explain', params('/b.png'), { signal: ac.signal });
    ac.abort();
    await rejectsWith(second, 'cancelled');
    await first;
    assert.equal(c.requestsSent, 1);
  });

  it('kills an engine that ignores a cancel, then serves the next request from a fresh process', async () => {
    const ac = new AbortController();
    // Abort once the request has surely reached the engine (process start time varies).
    const { c, pids } = client({ cancelGraceMs: 100, onReady: (_b, pid) => { pids.push(pid); setTimeout(() => ac.abort(), 50); } });
    const stuck = c.request('explain', params('/stubborn.png'), { signal: ac.signal });
    const next = c.request('explain', params('/ok.png'));
    await rejectsWith(stuck, 'cancelled');
    await next;
    assert.equal(pids.length, 2);
    assert.notEqual(pids[0], pids[1]);
  });

  it('reports a crash in one line and restarts on the next request', async () => {
    const { c, pids, logs } = client();
    await rejectsWith(c.request('explain', params('/crash.png')), 'internal', /stopped unexpectedly \(exit code 3\).*restart/);
    assert.equal(c.isRunning, false);
    assert.ok(logs.some((l) => l.includes('about to crash')), 'the engine log is kept');
    const r = await c.request('explain', params('/ok.png'));
    assert.equal(r.method, 'vanilla');
    assert.equal(pids.length, 2);
    assert.notEqual(pids[0], pids[1]);
  });

  it('fails a request queued behind a crash only if it crashes too', async () => {
    const { c } = client();
    const a = c.request('explain', params('/crash.png'));
    const b = c.request('explain', params('/ok.png'));
    await rejectsWith(a, 'internal');
    assert.equal((await b).method, 'vanilla');
  });

  it('detects a hang after the request timeout, kills the engine and restarts later', async () => {
    const { c, pids } = client({ requestTimeoutMs: () => 150 });
    const t0 = Date.now();
    await rejectsWith(c.request('explain', params('/hang.png')), 'internal', /did not respond for 0 s|did not respond/);
    assert.ok(Date.now() - t0 >= 140);
    assert.equal(c.isRunning, false);
    await c.request('explain', params('/ok.png'));
    assert.equal(pids.length, 2);
  });

  it('treats engine log lines as a heartbeat', async () => {
    const { c } = client({ requestTimeoutMs: () => 100, cancelGraceMs: 50 });
    const ac = new AbortController();
    const p = c.request('explain', params('/log-only.png'), { signal: ac.signal });
    const outcome = await Promise.race([p.then(() => 'answered', (e: EngineError) => e.kind), new Promise((r) => setTimeout(() => r('alive'), 400))]);
    assert.equal(outcome, 'alive', 'a logging engine is not declared hung');
    ac.abort();
    await rejectsWith(p, 'cancelled');
  });

  it('reports an engine that fails to start with its last words', async () => {
    process.env.FAKE_ENGINE_START = 'fail';
    const { c } = client();
    await rejectsWith(c.request('explain', params('/ok.png')), 'internal', /failed to start: exit code 1 \(no backend could be initialised\)/);
    delete process.env.FAKE_ENGINE_START;
    assert.equal((await c.request('explain', params('/ok.png'))).method, 'vanilla');
  });

  it('gives up on an engine that never becomes ready', async () => {
    process.env.FAKE_ENGINE_START = 'hang';
    const { c } = client({ startupTimeoutMs: 150 });
    await rejectsWith(c.request('explain', params('/ok.png')), 'internal', /did not start within/);
    assert.equal(c.isRunning, false);
  });

  it('rejects everything pending on dispose', async () => {
    const { c } = client();
    const a = c.request('explain', params('/slow/a.png'));
    const b = c.request('explain', params('/b.png'));
    c.dispose();
    await rejectsWith(a, 'cancelled');
    await rejectsWith(b, 'cancelled');
    await rejectsWith(c.request('explain', params('/c.png')), 'cancelled');
  });
});

describe('EngineClient.restart', () => {
  it('moves a request waiting for a starting engine to the restarted one', async () => {
    process.env.FAKE_ENGINE_START = 'slow';
    let starts = 0;
    const { c, pids } = client({ backend: () => (starts++ === 0 ? 'cpu' : 'wasm') });
    const p = c.request('explain', params('/ok.png'));
    await new Promise((r) => setTimeout(r, 20));
    c.restart('backend setting changed');
    const r = await p;
    assert.equal(r.method, 'vanilla');
    assert.equal(c.backend, 'wasm');
    assert.equal(pids.length, 1, 'only the second process became ready');
  });

  it('fails a request in flight with a one-line reason and serves the next one', async () => {
    const { c } = client();
    const p = c.request('explain', params('/slow/a.png'), { onProgress: () => c.restart('backend setting changed') });
    await rejectsWith(p, 'internal', /restarted \(backend setting changed\)/);
    assert.equal((await c.request('explain', params('/ok.png'))).method, 'vanilla');
  });
});

describe('EngineClient engine settings', () => {
  /** What the fake engine reports of its process: its pid and the SALIENCY_LENS_THREADS / _WORKERS it was given. */
  const whoAnswers = async (c: EngineClient): Promise<{ pid: number; threads: string; workers: string }> =>
    (await c.request('predict', { imagePath: '/ok.png', modelPath: '/m/model.json' })) as unknown as { pid: number; threads: string; workers: string };

  it('passes the wasm threads, keeps the process while they stay, and restarts it at the next request when they change', async () => {
    let threads: number | undefined = 2;
    // A value in VS Code's own environment must not outrank the setting.
    process.env.SALIENCY_LENS_THREADS = '7';
    try {
      const { c, logs } = client({ threads: () => threads });
      const first = await whoAnswers(c);
      assert.equal(first.threads, '2');
      assert.equal((await whoAnswers(c)).pid, first.pid, 'same settings: same process');
      assert.ok(logs.some((l) => l.includes('(2 wasm thread(s))')), 'the start is logged with its threads');
      threads = undefined;
      assert.equal(c.isRunning, true, 'the change alone does not stop the engine');
      const second = await whoAnswers(c);
      assert.notEqual(second.pid, first.pid);
      assert.equal(second.threads, '', 'automatic: the engine chooses');
      assert.ok(logs.some((l) => l.includes('stopping engine (engine settings changed to automatic)')));
    } finally {
      delete process.env.SALIENCY_LENS_THREADS;
    }
  });

  it('passes the gradient workers, keeps the process while they stay, and restarts it at the next request when they change', async () => {
    let workers: number | undefined = 0;
    // A value in VS Code's own environment must not outrank the setting.
    process.env.SALIENCY_LENS_WORKERS = '3';
    try {
      const { c, logs } = client({ threads: () => 2, workers: () => workers });
      const first = await whoAnswers(c);
      assert.equal(first.workers, '0', '0 (off) is passed, not taken for automatic');
      assert.equal((await whoAnswers(c)).pid, first.pid, 'same settings: same process');
      assert.ok(logs.some((l) => l.includes('(2 wasm thread(s), 0 gradient worker(s))')), 'the start is logged with its workers');
      workers = 2;
      assert.equal(c.isRunning, true, 'the change alone does not stop the engine');
      const second = await whoAnswers(c);
      assert.notEqual(second.pid, first.pid, 'a workers change alone restarts the engine');
      assert.equal(second.workers, '2');
      assert.equal(second.threads, '2');
      workers = undefined;
      const third = await whoAnswers(c);
      assert.notEqual(third.pid, second.pid);
      assert.equal(third.workers, '', 'automatic: the engine chooses');
      assert.ok(logs.some((l) => l.includes('stopping engine (engine settings changed to 2 wasm thread(s), 2 gradient worker(s))')));
    } finally {
      delete process.env.SALIENCY_LENS_WORKERS;
    }
  });

  it('lets a request in flight finish when the threads change under it', async () => {
    let threads: number | undefined;
    const { c, pids } = client({ threads: () => threads });
    const r = await c.request('explain', params('/slow/a.png'), { onProgress: () => { threads = 1; } });
    assert.equal(r.method, 'vanilla');
    assert.equal(pids.length, 1);
    assert.equal((await whoAnswers(c)).threads, '1');
    assert.equal(pids.length, 2, 'the next request started a fresh process');
  });
});
