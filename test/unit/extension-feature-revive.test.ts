// Reopening filter grid / dream panels after a window reload: the host's reading of the saved webview state
// (from the webview's own save of a real FeatureCore run against the fake engine) and the workspace check.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineClient } from '../../src/extension/engineClient';
import { FeatureCore } from '../../src/extension/featureCore';
import { checkRevivedJob, insideFolders, parseFeatureJob, parseRevivedFeature } from '../../src/extension/featureRevive';
import type { FeatureJob, ToFeatureWebviewMessage } from '../../src/shared/protocol';
import { restoreFeature, saveFeature } from '../../webview/featureSave';
import { emptyFeatureState, featureReducer } from '../../webview/filterState';

const FAKE = fileURLToPath(new URL('./extension-fake-engine.cjs', import.meta.url));
const clients: EngineClient[] = [];
afterEach(() => { while (clients.length) clients.pop()!.dispose(); });

const WS = resolve('/work/ws');
const filters: FeatureJob = { kind: 'filters', params: { modelPath: join(WS, 'm', 'model.json'), layer: 'conv1', filters: [0, 3], preprocess: 'imagenet', options: { steps: 4, size: 64, seed: 7 } } };
const dream: FeatureJob = { kind: 'dream', params: { modelPath: join(WS, 'm', 'model.json'), imagePath: join(WS, 'cat.png'), layer: 'conv2', options: { steps: 20 } } };

/** Runs a job through a FeatureCore (fake engine) and returns what its webview would save, through JSON. */
async function savedAfter(job: FeatureJob, opts: { cancel?: boolean; maxBytes?: number; check?: () => Promise<string | undefined> } = {}): Promise<{ saved: unknown; posted: ToFeatureWebviewMessage[]; core: FeatureCore }> {
  const client = new EngineClient({ enginePath: FAKE, requestTimeoutMs: () => 5000, log: () => undefined });
  clients.push(client);
  const posted: ToFeatureWebviewMessage[] = [];
  const core = new FeatureCore({
    engine: client, log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    post: (m) => posted.push(m), withProgress: (task) => task({ report: () => undefined }, () => undefined), showError: () => undefined,
    ...(opts.check ? { check: opts.check } : {}),
  }, job);
  core.onMessage({ type: 'ready' });
  const running = core.run();
  if (opts.cancel) {
    while (!posted.some((m) => m.type === 'featureImages')) await new Promise((r) => setTimeout(r, 10));
    core.onMessage({ type: 'cancel' });
  }
  await running;
  const state = posted.reduce(featureReducer, emptyFeatureState());
  return { saved: JSON.parse(JSON.stringify(saveFeature(state, opts.maxBytes))), posted, core };
}

describe('reviving feature panels', () => {
  it('a finished grid comes back showing its images, with the same job and no computation', async () => {
    const { saved } = await savedAfter(filters);
    const revived = parseRevivedFeature(saved);
    assert.deepEqual(revived, { job: filters, plan: 'show' });
    const view = restoreFeature(saved);
    assert.equal(view.done, true);
    assert.deepEqual(view.tiles.map((t) => [t.index, t.after, t.image?.width]), [[0, 5, 2], [3, 8, 2]]);
  });

  it('a grid too large to keep is computed again; a cancelled one offers Run again; an interrupted one runs', async () => {
    assert.equal(parseRevivedFeature((await savedAfter(filters, { maxBytes: 10 })).saved)?.plan, 'run');
    const cancelled = (await savedAfter({ ...filters, params: { ...filters.params, modelPath: join(WS, 'slow', 'model.json') } }, { cancel: true })).saved;
    assert.equal(parseRevivedFeature(cancelled)?.plan, 'offer');
    const interrupted = { ...(cancelled as object), busy: true, error: undefined };
    assert.equal(parseRevivedFeature(interrupted)?.plan, 'run');
    assert.equal(parseRevivedFeature({ ...(cancelled as object), busy: true })?.plan, 'run', 'a run going on outranks an older error');
  });

  it('a dream keeps its image path and whole-layer tile', async () => {
    const { saved } = await savedAfter(dream);
    assert.deepEqual(parseRevivedFeature(saved), { job: dream, plan: 'show' });
    assert.deepEqual(restoreFeature(saved).tiles.map((t) => t.index), [null]);
  });

  it('rejects saved states that cannot describe a request, and drops unknown or mistyped options', () => {
    for (const bad of [undefined, 'x', {}, { job: { kind: 'filters', params: { layer: 'c' } } }, { job: { kind: 'dream', params: { modelPath: '/m', layer: 'c' } } },
      { job: { kind: 'other', params: { modelPath: '/m', layer: 'c', imagePath: '/i' } } }, { job: { kind: 'filters', params: { modelPath: '/m', layer: 'c', filters: [1, -2] } } },
      { job: { kind: 'filters', params: { modelPath: '/m', layer: 'c', filters: [] } } }]) {
      assert.equal(parseRevivedFeature(bad), undefined, JSON.stringify(bad));
    }
    const job = parseFeatureJob({ kind: 'filters', params: {
      modelPath: '/m', layer: 'c', count: 4, preprocess: 'nope', resize: 'center-crop', extra: 1,
      options: { steps: '9', size: 32, objective: 'neuron', param: 'voxels', negative: true, optimizer: 'rms', evil: 'x', lr: Infinity },
    } });
    assert.deepEqual(job, { kind: 'filters', params: { modelPath: '/m', resize: 'center-crop', layer: 'c', count: 4, options: { size: 32, negative: true, objective: 'neuron', optimizer: 'rms' } } });
  });

  it('tells which files are inside the workspace', () => {
    assert.equal(insideFolders(join(WS, 'a', 'b.onnx'), [WS]), true);
    assert.equal(insideFolders(join(WS, 'a', '..', '..', 'etc', 'passwd'), [WS]), false);
    assert.equal(insideFolders(`${WS}-other/m.onnx`, [WS]), false);
    assert.equal(insideFolders(WS, [WS]), false);
    assert.equal(insideFolders(join(WS, 'm.onnx'), []), false);
    assert.equal(insideFolders(join(WS, 'm.onnx'), [resolve('/elsewhere'), WS]), true);
  });

  it('runs a restored job only on files inside the workspace that still exist, and says which file in one line', async () => {
    const present = new Set([filters.params.modelPath, dream.params.imagePath]);
    const exists = async (f: string): Promise<boolean> => present.has(f);
    assert.equal(await checkRevivedJob(filters, [WS], exists), undefined);
    assert.equal(await checkRevivedJob(dream, [WS], exists), undefined);
    const outside = await checkRevivedJob(filters, [resolve('/other')], exists);
    assert.equal(outside, `${filters.params.modelPath}: outside the workspace, so a restored panel does not read it (run Visualize Filters… again)`);
    present.delete(dream.params.imagePath);
    assert.equal(await checkRevivedJob(dream, [WS], exists), `${dream.params.imagePath}: not found (moved or deleted since the panel was opened)`);
    const labelled: FeatureJob = { ...filters, params: { ...filters.params, labelsPath: resolve('/tmp/labels.txt') } };
    assert.match((await checkRevivedJob(labelled, [WS], exists)) ?? '', /labels\.txt: outside the workspace/);
  });

  it('a refused check shows its reason in the panel, asks nothing of the engine, and Run again checks again', async () => {
    let reason: string | undefined = '/w/gone.onnx: not found (moved or deleted since the panel was opened)';
    const { posted, core } = await savedAfter(filters, { check: async () => reason });
    assert.deepEqual(posted.filter((m) => m.type !== 'featureContext').map((m) => m.type), ['featureError']);
    const state = posted.reduce(featureReducer, emptyFeatureState());
    assert.deepEqual(state.error, { message: reason, cancelled: false });
    assert.equal(core.finished, undefined);
    reason = undefined;
    core.onMessage({ type: 'rerun' });
    while (!core.finished) await new Promise((r) => setTimeout(r, 10));
    assert.equal(posted.filter((m) => m.type === 'featureResult').length, 1);
  });
});
