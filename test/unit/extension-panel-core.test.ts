// The panel's message flow outside VS Code: a PanelCore with the real EngineClient talking to the fake engine.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readSettings } from '../../src/extension/config';
import { EngineClient } from '../../src/extension/engineClient';
import { PanelCore, requestKey, slotSpecs } from '../../src/extension/panelCore';
import type { ExplainParams, FromWebviewMessage, ToWebviewMessage } from '../../src/shared/protocol';

const FAKE = fileURLToPath(new URL('./extension-fake-engine.cjs', import.meta.url));
const clients: EngineClient[] = [];
afterEach(() => { while (clients.length) clients.pop()!.dispose(); });

interface Harness {
  core: PanelCore;
  posted: ToWebviewMessage[];
  explains: ExplainParams[];
  requests: string[];
  increments: number[];
  errors: string[];
  infos: string[];
  send(m: FromWebviewMessage): Promise<void>;
  of<T extends ToWebviewMessage['type']>(type: T): Extract<ToWebviewMessage, { type: T }>[];
}

function harness(opts: { image?: string; models?: string[]; settings?: Record<string, unknown> } = {}): Harness {
  const client = new EngineClient({ enginePath: FAKE, requestTimeoutMs: () => 5000, log: () => undefined });
  clients.push(client);
  const posted: ToWebviewMessage[] = [];
  const explains: ExplainParams[] = [];
  const requests: string[] = [];
  const increments: number[] = [];
  const errors: string[] = [];
  const infos: string[] = [];
  const request = ((type: 'explain', params: ExplainParams, o?: Parameters<EngineClient['request']>[2]) => {
    requests.push(type);
    if (type === 'explain') explains.push(params);
    return client.request(type, params, o);
  }) as EngineClient['request'];
  const core = new PanelCore({
    engine: { request },
    log: { info: (l) => infos.push(l), warn: () => undefined, error: () => undefined },
    settings: () => readSettings((k) => opts.settings?.[k]),
    post: (m) => posted.push(m),
    withProgress: (task) => task({ report: (v) => { if (v.increment) increments.push(v.increment); } }, () => undefined),
    showError: (m) => errors.push(m),
    modelsChanged: () => undefined,
  }, { imagePath: opts.image ?? '/img/cat.png', models: opts.models ?? ['/m/a/model.json'] }, false);
  return {
    core, posted, explains, requests, increments, errors, infos,
    send: (m) => core.onMessage(m),
    of: <T extends ToWebviewMessage['type']>(type: T) => posted.filter((m): m is Extract<ToWebviewMessage, { type: T }> => m.type === type),
  };
}

describe('panel core: parameters reach the engine', () => {
  it('starts a new panel from the settings and sends only what the method reads', async () => {
    const h = harness({ settings: { method: 'smoothgrad', samples: 8, noise: 0.3, steps: 99, patch: 0, layer: '' } });
    await h.send({ type: 'ready' });
    const settings = h.of('settings')[0];
    assert.equal(settings.method, 'smoothgrad');
    assert.deepEqual(settings.options, { samples: 8, noise: 0.3, steps: 99 });
    await h.core.compute('command');
    assert.deepEqual(h.explains[0].options, { samples: 8, noise: 0.3 });
    assert.equal(h.of('result').length, 1);
  });

  it('recomputes after a parameter change, and not after a change the methods on screen ignore', async () => {
    const h = harness({ settings: { method: 'smoothgrad' } });
    await h.core.compute('command');
    await h.send({ type: 'recompute', options: { samples: 10 } });
    assert.equal(h.explains.length, 2);
    assert.deepEqual(h.explains[1].options, { samples: 10 });
    await h.send({ type: 'recompute', options: { samples: 10, steps: 7 } });
    assert.equal(h.explains.length, 2, 'steps is an Integrated Gradients parameter: nothing to recompute');
    await h.send({ type: 'recompute', method: 'integrated-gradients', options: { samples: 10, steps: 7 } });
    assert.deepEqual(h.explains[2].options, { steps: 7 });
    assert.equal(h.explains[2].method, 'integrated-gradients');
  });

  it('asks for faithfulness metrics when on, and keeps a measured result when they are turned off', async () => {
    const h = harness();
    await h.core.compute('command');
    await h.send({ type: 'recompute', options: { metrics: true } });
    assert.deepEqual(h.explains[1].options, { metrics: true });
    const r = h.of('result').at(-1)!.result;
    assert.equal(r.metrics?.deletion?.auc, 0.4);
    assert.equal(r.metrics?.randomization?.length, 2);
    await h.send({ type: 'recompute', options: { metrics: false } });
    assert.equal(h.explains.length, 2, 'the result with metrics still serves');
  });

  it('lists the layers for the CAM picker and reports the layer used', async () => {
    const h = harness({ settings: { method: 'gradcam' } });
    await h.core.compute('command');
    assert.equal(h.of('result')[0].result.layer, 'conv2', 'auto: the engine\'s default');
    assert.equal(h.explains[0].options?.layer, undefined);
    await h.send({ type: 'requestLayers' });
    const layers = h.of('layers')[0];
    assert.equal(layers.modelPath, '/m/a/model.json');
    assert.deepEqual(layers.layers.filter((l) => l.spatial).map((l) => l.name), ['conv1', 'conv2']);
    await h.send({ type: 'recompute', options: { layer: 'conv1' } });
    assert.equal(h.explains[1].options?.layer, 'conv1');
    assert.equal(h.of('result')[1].result.layer, 'conv1');
  });

  it('forgets the layer when the model changes (layer names belong to a model)', async () => {
    const h = harness({ settings: { method: 'gradcam', layer: 'conv1' } });
    h.core.setPrimaryModel('/m/b/model.json');
    await h.core.compute('model changed');
    assert.equal(h.explains[0].options?.layer, undefined);
  });
});

describe('panel core: progress and cancel', () => {
  it('reports progress in the notification and in the panel, then ends the busy state', async () => {
    const h = harness({ image: '/img/slow.png' });
    await h.core.compute('command');
    const busy = h.of('busy');
    assert.match(busy[0].message, /^Computing Vanilla gradient for slow\.png…/);
    const fractions = busy.map((b) => b.fraction).filter((f): f is number => f !== undefined);
    assert.ok(fractions.length >= 2);
    assert.ok(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1])), String(fractions));
    assert.equal(busy.at(-1)!.message, '', 'the busy state ends');
    const total = h.increments.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 100) < 1e-6, `notification increments add up to ${total}`);
  });

  it('cancels from the panel: the picture on screen stays, with its method', async () => {
    const h = harness({ image: '/img/slow.png' });
    await h.core.compute('command');
    const running = h.send({ type: 'recompute', method: 'guided' });
    await new Promise((r) => setTimeout(r, 60));
    await h.send({ type: 'cancel' });
    await running;
    const err = h.of('error').at(-1)!;
    assert.equal(err.cancelled, true);
    assert.equal(h.core.resultOf(0)?.method, 'vanilla');
    assert.equal(h.core.methods.method, 'vanilla');
    assert.deepEqual(h.errors, [], 'a cancel is not an error notification');
    assert.equal(h.of('busy').at(-1)!.message, '');
  });
});

describe('panel core: going back', () => {
  it('stops a running computation when the user returns to what is on screen', async () => {
    const h = harness({ image: '/img/slow.png' });
    await h.core.compute('command');
    const running = h.send({ type: 'recompute', method: 'guided' });
    await new Promise((r) => setTimeout(r, 60));
    await h.send({ type: 'recompute', method: 'vanilla' });
    await running;
    assert.equal(h.explains.length, 2, 'vanilla is on screen already');
    assert.equal(h.of('result').length, 1, 'the guided result never replaces it');
    assert.equal(h.core.resultOf(0)?.method, 'vanilla');
    assert.equal(h.of('busy').at(-1)!.message, '', 'the busy state ends');
    assert.equal(h.of('error').length, 0);
  });
});

describe('panel core: side by side', () => {
  it('adds a method column on the same model and target, computing only that column', async () => {
    const h = harness();
    await h.core.compute('command');
    h.core.setCompareMethod('gradcam');
    const ctx = h.of('context').at(-1)!;
    assert.deepEqual(ctx.slots.map((s) => [s.modelPath, s.method]), [['/m/a/model.json', undefined], ['/m/a/model.json', 'gradcam']]);
    await h.core.compute('compare', { reuse: true });
    assert.equal(h.explains.length, 2);
    assert.equal(h.explains[1].method, 'gradcam');
    assert.equal(h.explains[1].modelPath, '/m/a/model.json');
    assert.equal(h.explains[1].target, 1, 'the first column\'s target, by index');
    assert.deepEqual(h.of('result').map((r) => r.slot), [0, 1]);
    // A new first method recomputes the first column only; a parameter both read recomputes both.
    await h.send({ type: 'recompute', method: 'guided' });
    assert.deepEqual(h.explains.slice(2).map((e) => e.method), ['guided']);
    await h.send({ type: 'recompute', options: { metrics: true } });
    assert.deepEqual(h.explains.slice(3).map((e) => [e.method, e.options?.metrics]), [['guided', true], ['gradcam', true]]);
  });

  it('still compares two models, mapping the target through the labels; a method comparison replaces it', async () => {
    const h = harness({ models: ['/m/a/model.json', '/m/b/model.json'] });
    await h.core.compute('command');
    assert.deepEqual(h.explains.map((e) => e.modelPath), ['/m/a/model.json', '/m/b/model.json']);
    assert.ok(h.requests.includes('labels'));
    h.core.setCompareMethod('occlusion');
    assert.deepEqual(h.core.modelPaths, ['/m/a/model.json']);
    assert.deepEqual(h.core.slots, [{ modelPath: '/m/a/model.json', method: 'vanilla' }, { modelPath: '/m/a/model.json', method: 'occlusion' }]);
    h.core.setCompareModel('/m/c/model.json');
    assert.equal(h.core.methods.compareMethod, undefined);
    assert.equal(h.core.slots.length, 2);
  });

  it('re-sends results, errors and the busy state to a reloaded webview', async () => {
    const h = harness();
    await h.core.compute('command');
    h.core.setCompareMethod('gradcam');
    await h.core.compute('compare', { reuse: true });
    h.posted.length = 0;
    await h.send({ type: 'ready' });
    assert.deepEqual(h.posted.map((m) => m.type), ['context', 'settings', 'result', 'result']);
    assert.ok(!('key' in h.of('result')[0]), 'internal bookkeeping stays in the host');
  });
});

describe('panel core: click-to-overlay timing', () => {
  it('logs one line per column when the webview reports its overlay, from the click and with the engine\'s timings', async () => {
    const h = harness({ image: '/img/demo.png' });
    const clickAt = Date.now() - 400;
    await h.core.compute('command', { startedAt: clickAt });
    const { requestId } = h.of('result')[0];
    const timed = () => h.infos.filter((l) => l.includes('click → overlay'));
    assert.deepEqual(timed(), [], 'nothing before the overlay is drawn');
    await h.send({ type: 'rendered', requestId, slot: 0, renderMs: 12.4 });
    const [line] = timed();
    const m = /^demo\.png · vanilla: click → overlay (\d+) ms \(engine start (\d+), load 1, inference 1, attribution 1, other \d+, messaging \d+, render 12\)$/.exec(line ?? '');
    assert.ok(m, line);
    assert.ok(Number(m[1]) >= 400 && Number(m[2]) >= 400, 'measured from the click, which includes starting the engine');
    await h.send({ type: 'ready' });
    await h.send({ type: 'rendered', requestId, slot: 0, renderMs: 3 });
    assert.equal(timed().length, 1, 'a reloaded webview drawing the result again is not logged');
  });

  it('times each column of a comparison, counting the second one\'s wait as queued', async () => {
    const h = harness();
    await h.core.compute('command');
    h.core.setCompareMethod('gradcam');
    await h.core.compute('compare', { reuse: true });
    const { requestId } = h.of('result').at(-1)!;
    await h.send({ type: 'rendered', requestId, slot: 1 });
    assert.match(h.infos.at(-1)!, /^cat\.png · gradcam \(column 2\): click → overlay \d+ ms \(queued \d+, .*render 0\)$/);
  });
});

describe('panel core: request keys', () => {
  const settings = { preprocess: undefined, resize: undefined };
  it('depend on what the method reads, not on metrics or other methods\' parameters', () => {
    const spec = slotSpecs(['/m'], 'smoothgrad', undefined)[0];
    const a = requestKey(spec, undefined, undefined, { samples: 5 }, settings);
    assert.equal(requestKey(spec, undefined, undefined, { samples: 5, steps: 3, metrics: true }, settings), a);
    assert.notEqual(requestKey(spec, undefined, undefined, { samples: 6 }, settings), a);
    assert.notEqual(requestKey(spec, 2, undefined, { samples: 5 }, settings), a);
  });
});
