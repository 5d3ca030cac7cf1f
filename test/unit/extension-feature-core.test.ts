// The filter grid / dream message flow outside VS Code: a FeatureCore with the real EngineClient and the fake engine.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { EngineClient } from '../../src/extension/engineClient';
import { FeatureCore, type FeatureJob } from '../../src/extension/featureCore';
import type { ToFeatureWebviewMessage } from '../../src/shared/protocol';
import { emptyFeatureState, featureReducer } from '../../webview/filterState';

const FAKE = fileURLToPath(new URL('./extension-fake-engine.cjs', import.meta.url));
const clients: EngineClient[] = [];
afterEach(() => { while (clients.length) clients.pop()!.dispose(); });

function harness(job: FeatureJob) {
  const client = new EngineClient({ enginePath: FAKE, requestTimeoutMs: () => 5000, log: () => undefined });
  clients.push(client);
  const posted: ToFeatureWebviewMessage[] = [];
  const errors: string[] = [];
  let cancel: (() => void) | undefined;
  const increments: number[] = [];
  const core = new FeatureCore({
    engine: client,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    post: (m) => posted.push(m),
    withProgress: (task) => task({ report: (v) => { if (v.increment) increments.push(v.increment); } }, (h) => { cancel = h; }),
    showError: (m) => errors.push(m),
  }, job);
  const of = <T extends ToFeatureWebviewMessage['type']>(type: T) => posted.filter((m): m is Extract<ToFeatureWebviewMessage, { type: T }> => m.type === type);
  return { core, posted, errors, increments, of, cancel: () => cancel?.() };
}

const filtersJob = (modelPath = '/m/model.json'): FeatureJob => ({ kind: 'filters', params: { modelPath, layer: 'conv1', filters: [0, 3], options: { steps: 4 } } });

describe('feature panel core', () => {
  it('the engine client maps visualizeFilters and dream to their results and forwards live images', async () => {
    const client = new EngineClient({ enginePath: FAKE, requestTimeoutMs: () => 5000, log: () => undefined });
    clients.push(client);
    const steps: number[] = [];
    const r = await client.request('visualizeFilters', { modelPath: '/m/model.json', layer: 'conv1', filters: [1, 2] }, { onImages: (step, _n, images) => { steps.push(step); assert.equal(images.length, 2); } });
    assert.deepEqual(r.filters.map((f) => f.index), [1, 2]);
    assert.equal(r.objective, 'channel');
    assert.deepEqual(steps, [4, 8]);
    const d = await client.request('dream', { modelPath: '/m/model.json', imagePath: '/img/cat.png', layer: 'conv2' });
    assert.deepEqual(d.filters.map((f) => f.index), [null]);
    assert.equal(d.objective, 'layer');
  });

  it('runs a filter job: busy, live images, the result, then not busy; a reloaded webview gets it all back', async () => {
    const h = harness(filtersJob());
    h.core.onMessage({ type: 'ready' });
    const ctx = h.of('featureContext')[0];
    assert.deepEqual(ctx.filters, [0, 3]);
    assert.equal(ctx.title, 'Filters: conv1');
    assert.equal(ctx.modelName, 'm');
    assert.deepEqual(ctx.job, filtersJob(), 'the webview keeps the job for a window reload');
    await h.core.run();
    assert.ok(h.of('featureImages').length >= 1, 'live images were posted');
    assert.ok(h.of('featureImages').every((m) => m.images.length === 2));
    const result = h.of('featureResult');
    assert.equal(result.length, 1);
    assert.deepEqual(result[0].result.filters.map((f) => [f.index, f.after]), [[0, 5], [3, 8]]);
    const busy = h.of('featureBusy');
    assert.ok(busy[0].message.includes('2 filters of conv1'));
    assert.equal(busy.at(-1)!.message, '');
    assert.ok(h.posted.indexOf(result[0]) < h.posted.lastIndexOf(busy.at(-1)!), 'the result arrives before busy ends');
    assert.ok(h.increments.reduce((s, x) => s + x, 0) > 50);
    assert.deepEqual(h.errors, []);
    assert.ok(h.core.finished);

    // The webview state built from these messages: two painted, finished tiles.
    const state = h.posted.reduce(featureReducer, emptyFeatureState());
    assert.equal(state.done, true);
    assert.deepEqual(state.tiles.map((t) => [t.index, t.before, t.after, !!t.image]), [[0, 0.5, 5, true], [3, 0.5, 8, true]]);

    h.posted.length = 0;
    h.core.onMessage({ type: 'ready' });
    assert.deepEqual(h.posted.map((m) => m.type), ['featureContext', 'featureResult']);
  });

  it('cancel from the panel keeps the images so far and reports no error notification', async () => {
    const h = harness(filtersJob('/m/slow/model.json'));
    const running = h.core.run();
    while (h.of('featureImages').length === 0) await new Promise((r) => setTimeout(r, 10));
    h.core.onMessage({ type: 'cancel' });
    await running;
    const err = h.of('featureError');
    assert.equal(err.length, 1);
    assert.equal(err[0].cancelled, true);
    assert.equal(h.of('featureResult').length, 0);
    assert.deepEqual(h.errors, []);
    h.posted.length = 0;
    h.core.onMessage({ type: 'ready' });
    assert.deepEqual(h.posted.map((m) => m.type), ['featureContext', 'featureImages', 'featureError']);
  });

  it('the notification\'s Cancel stops it too; an engine error becomes one notification', async () => {
    const h = harness(filtersJob('/m/slow/model.json'));
    const running = h.core.run();
    while (h.of('featureImages').length === 0) await new Promise((r) => setTimeout(r, 10));
    h.cancel();
    await running;
    assert.equal(h.of('featureError')[0]?.cancelled, true);

    const bad = harness({ kind: 'dream', params: { modelPath: '/m/model.json', imagePath: '/img/bad.png', layer: 'conv1' } });
    await bad.core.run();
    assert.equal(bad.of('featureError')[0]?.cancelled, false);
    assert.equal(bad.errors.length, 1);
    assert.match(bad.errors[0], /^Saliency Lens: .*bad\.png: not an image$/);
  });

  it('a dream shows one whole-layer tile', async () => {
    const h = harness({ kind: 'dream', params: { modelPath: '/m/model.json', imagePath: '/img/cat.png', layer: 'conv2' } });
    h.core.onMessage({ type: 'ready' });
    assert.deepEqual(h.of('featureContext')[0].filters, [null]);
    assert.equal(h.of('featureContext')[0].imageName, 'cat.png');
    await h.core.run();
    const state = h.posted.reduce(featureReducer, emptyFeatureState());
    assert.equal(state.kind, 'dream');
    assert.deepEqual(state.tiles.map((t) => t.index), [null]);
    assert.equal(state.done, true);
  });
});
