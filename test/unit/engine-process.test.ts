import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { EngineMessage, EngineRequest } from '../../src/shared/protocol';

const ROOT = join(__dirname, '..', '..');
const MODEL = join(ROOT, 'test', 'fixtures', 'layers-functional', 'model.json');
const work = mkdtempSync(join(tmpdir(), 'sl-proc-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function startEngine(): { child: ChildProcess; messages: EngineMessage[]; next: (pred: (m: EngineMessage) => boolean) => Promise<EngineMessage> } {
  const child = fork(join(ROOT, 'src', 'engine', 'process.ts'), [], {
    execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, SALIENCY_LENS_BACKEND: process.env.SALIENCY_LENS_BACKEND ?? 'cpu' },
  });
  const messages: EngineMessage[] = [];
  const waiters: Array<{ pred: (m: EngineMessage) => boolean; resolve: (m: EngineMessage) => void }> = [];
  child.on('message', (m: EngineMessage) => {
    messages.push(m);
    for (const w of [...waiters]) if (w.pred(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
  });
  const next = (pred: (m: EngineMessage) => boolean) => {
    const seen = messages.find(pred);
    return seen ? Promise.resolve(seen) : new Promise<EngineMessage>((resolve) => waiters.push({ pred, resolve }));
  };
  return { child, messages, next };
}

test('the engine process answers requests over IPC with ArrayBuffers, errors by kind, and cancels', async () => {
  const image = join(work, 'i.png');
  await sharp(Buffer.alloc(40 * 40 * 3, 120), { raw: { width: 40, height: 40, channels: 3 } }).png().toFile(image);
  const { child, next, messages } = startEngine();
  try {
    const ready = await next((m) => m.type === 'ready');
    assert.equal(ready.type === 'ready' && ready.backend, process.env.SALIENCY_LENS_BACKEND ?? 'cpu');
    const send = (r: EngineRequest) => child.send(r);

    send({ type: 'explain', id: 1, params: { imagePath: image, modelPath: MODEL, method: 'vanilla' } });
    const result = await next((m) => 'id' in m && m.id === 1 && m.type !== 'progress');
    assert.equal(result.type, 'explainResult');
    if (result.type === 'explainResult') {
      assert.ok(result.result.attribution.data instanceof ArrayBuffer);
      assert.equal(result.result.attribution.data.byteLength, 32 * 32 * 3 * 4);
      assert.ok(result.result.input.data instanceof ArrayBuffer);
    }
    assert.ok(messages.some((m) => m.type === 'progress' && m.id === 1));

    send({ type: 'predict', id: 2, params: { imagePath: join(work, 'missing.png'), modelPath: MODEL } });
    const bad = await next((m) => m.type === 'error' && m.id === 2);
    assert.equal(bad.type === 'error' && bad.kind, 'bad-input');
    assert.match(bad.type === 'error' ? bad.message : '', /missing\.png/);

    // Queued behind a long request, then cancelled: both answer, the cancelled one as 'cancelled'.
    send({ type: 'explain', id: 3, params: { imagePath: image, modelPath: MODEL, method: 'smoothgrad', options: { samples: 64, batch: 2 } } });
    send({ type: 'explain', id: 4, params: { imagePath: image, modelPath: MODEL, method: 'vanilla' } });
    await next((m) => m.type === 'progress' && m.id === 3 && m.fraction > 0.3);
    send({ type: 'cancel', id: 3 });
    const cancelled = await next((m) => m.type === 'error' && m.id === 3);
    assert.equal(cancelled.type === 'error' && cancelled.kind, 'cancelled');
    const after = await next((m) => 'id' in m && m.id === 4 && m.type !== 'progress');
    assert.equal(after.type, 'explainResult');

    send({ type: 'layers', id: 5, params: { modelPath: MODEL } });
    const layers = await next((m) => m.type === 'layersResult' && m.id === 5);
    assert.ok(layers.type === 'layersResult' && layers.result.some((l) => l.spatial));
  } finally {
    child.send({ type: 'shutdown' });
    await new Promise((r) => child.once('exit', r));
  }
});
