// Webview state for method parameters, faithfulness and two methods side by side; the metrics helpers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeExplainResult } from '../helpers/explainResult';
import type { ExplainResult, LayerInfo, MethodName, ToWebviewMessage } from '../../src/shared/protocol';
import {
  camLayers, comparingMethods, fromHost, fromUser, initialState, persistable, slotMethod, visibleParams, type PanelState,
} from '../../webview/state';
import { curvePoints, formatAuc, formatGap, interpretRandomization } from '../../webview/metricsFormat';

const MODEL = '/w/a/model.json';

function result(over: Partial<ExplainResult> = {}): ExplainResult {
  return fakeExplainResult(over, MODEL);
}

function context(slots: { modelPath: string; method?: MethodName }[] = [{ modelPath: MODEL }]): ToWebviewMessage {
  return { type: 'context', imagePath: '/w/cat.png', imageName: 'cat.png', methods: ['vanilla'], slots: slots.map((s) => ({ ...s, modelName: 'a' })) };
}

function panel(method: MethodName = 'vanilla', slots?: { modelPath: string; method?: MethodName }[]): PanelState {
  let s = fromHost(initialState(), context(slots)).state;
  s = fromHost(s, { type: 'settings', display: s.display, method, options: {} }).state;
  return s;
}

const sorted = (set: Set<string>): string[] => [...set].sort();

describe('webview state: which parameters are shown', () => {
  it('shows each method\'s own parameters and none for plain gradients', () => {
    assert.deepEqual(sorted(visibleParams(panel('vanilla'))), []);
    assert.deepEqual(sorted(visibleParams(panel('smoothgrad'))), ['batch', 'noise', 'samples', 'seed', 'smoothBase', 'squared']);
    assert.deepEqual(sorted(visibleParams(panel('vargrad'))), ['batch', 'noise', 'samples', 'seed', 'smoothBase']);
    assert.deepEqual(sorted(visibleParams(panel('integrated-gradients'))), ['baseline', 'batch', 'integration', 'steps']);
    assert.deepEqual(sorted(visibleParams(panel('gradcam'))), ['layer']);
    assert.deepEqual(sorted(visibleParams(panel('scorecam'))), ['batch', 'layer']);
    assert.deepEqual(sorted(visibleParams(panel('guided-gradcam'))), ['layer']);
    assert.deepEqual(sorted(visibleParams(panel('occlusion'))), ['batch', 'patch', 'stride']);
  });

  it('shows the seed for the uniform baseline, and batch and seed when faithfulness is on', () => {
    const ig = fromUser(panel('integrated-gradients'), { type: 'options', patch: { baseline: 'uniform' } }).state;
    assert.ok(visibleParams(ig).has('seed'));
    const gc = fromUser(panel('gradcam'), { type: 'options', patch: { metrics: true } }).state;
    assert.deepEqual(sorted(visibleParams(gc)), ['batch', 'layer', 'seed']);
  });

  it('shows the union for two methods side by side', () => {
    const s = panel('smoothgrad', [{ modelPath: MODEL }, { modelPath: MODEL, method: 'occlusion' }]);
    assert.ok(comparingMethods(s));
    assert.deepEqual(sorted(visibleParams(s)), ['batch', 'noise', 'patch', 'samples', 'seed', 'smoothBase', 'squared', 'stride']);
  });
});

describe('webview state: changing parameters', () => {
  it('updates at once but asks the engine only after a pause (debounced), with all parameters', () => {
    const s = panel('smoothgrad');
    const u = fromUser(s, { type: 'options', patch: { samples: 50 } });
    assert.deepEqual(u.post, []);
    assert.equal(u.state.options.samples, 50);
    assert.deepEqual(u.debounced, { type: 'recompute', options: { samples: 50 } });
    const v = fromUser(u.state, { type: 'options', patch: { noise: 0.3 } });
    assert.deepEqual(v.debounced, { type: 'recompute', options: { samples: 50, noise: 0.3 } });
  });

  it('ignores no-op changes, clamps numbers and treats undefined as automatic', () => {
    let s = panel('occlusion');
    s = fromUser(s, { type: 'options', patch: { patch: 8 } }).state;
    assert.equal(fromUser(s, { type: 'options', patch: { patch: 8 } }).render, 'none');
    const clamped = fromUser(s, { type: 'options', patch: { batch: 5000, steps: 1.4 } }).state.options;
    assert.equal(clamped.batch, 1024);
    assert.equal(clamped.steps, 2);
    const auto = fromUser(s, { type: 'options', patch: { patch: undefined } });
    assert.equal('patch' in auto.state.options, false);
    assert.deepEqual(auto.debounced, { type: 'recompute', options: {} });
  });

  it('sends the parameters with a method change, so a pending debounced request is not needed', () => {
    const s = fromUser(panel('smoothgrad'), { type: 'options', patch: { samples: 9 } }).state;
    assert.deepEqual(fromUser(s, { type: 'method', method: 'vargrad' }).post, [{ type: 'recompute', method: 'vargrad', options: { samples: 9 } }]);
  });

  it('takes the host\'s parameters from the settings message', () => {
    const s = fromHost(panel(), { type: 'settings', display: panel().display, method: 'smoothgrad', options: { samples: 3, metrics: true, bogus: 1 } as never }).state;
    assert.deepEqual(s.options, { samples: 3, metrics: true });
  });

  it('cancels only while something runs', () => {
    const idle = panel();
    assert.deepEqual(fromUser(idle, { type: 'cancel' }).post, []);
    const busy = fromHost(idle, { type: 'busy', requestId: 4, message: 'Computing…', fraction: 0.25 }).state;
    assert.equal(busy.busy?.fraction, 0.25);
    assert.deepEqual(fromUser(busy, { type: 'cancel' }).post, [{ type: 'cancel' }]);
  });
});

describe('webview state: CAM layers', () => {
  const layers: LayerInfo[] = [
    { name: 'conv1', op: 'Conv2D', outputShape: [-1, 8, 8, 4], spatial: true },
    { name: 'pool', op: 'GlobalAveragePooling2D', outputShape: [-1, 4], spatial: false },
  ];

  it('asks for the model\'s layers once, when a method with a layer is first on screen', () => {
    const s = panel('vanilla');
    assert.equal(s.layersRequested, false);
    const u = fromUser(s, { type: 'method', method: 'gradcam' });
    assert.deepEqual(u.post.map((m) => m.type), ['recompute', 'requestLayers']);
    const again = fromUser(fromUser(u.state, { type: 'method', method: 'vanilla' }).state, { type: 'method', method: 'layercam' });
    assert.deepEqual(again.post.map((m) => m.type), ['recompute']);
    // A panel opening on a CAM method asks as soon as it knows.
    assert.deepEqual(fromHost(fromHost(initialState(), context()).state, { type: 'settings', display: s.display, method: 'hirescam' }).post, [{ type: 'requestLayers' }]);
  });

  it('lists the spatial layers of the first model only, and forgets them and the layer with another model', () => {
    let s = panel('gradcam');
    s = fromHost(s, { type: 'layers', modelPath: '/w/other/model.json', layers }).state;
    assert.deepEqual(camLayers(s), []);
    s = fromHost(s, { type: 'layers', modelPath: MODEL, layers }).state;
    assert.deepEqual(camLayers(s).map((l) => l.name), ['conv1']);
    s = fromUser(s, { type: 'options', patch: { layer: 'conv1' } }).state;
    const other = fromHost(s, context([{ modelPath: '/w/b/model.json' }]));
    assert.equal(other.state.options.layer, undefined);
    assert.deepEqual(camLayers(other.state), []);
    assert.deepEqual(other.post, [{ type: 'requestLayers' }]);
  });
});

describe('webview state: two methods side by side', () => {
  it('gives the second column its own method and result; the method control drives the first', () => {
    let s = panel('vanilla', [{ modelPath: MODEL }, { modelPath: MODEL, method: 'gradcam' }]);
    assert.equal(slotMethod(s, 0), 'vanilla');
    assert.equal(slotMethod(s, 1), 'gradcam');
    s = fromHost(s, { type: 'result', requestId: 1, slot: 0, result: result() }).state;
    s = fromHost(s, { type: 'result', requestId: 1, slot: 1, result: result({ method: 'gradcam', layer: 'conv1' }) }).state;
    assert.equal(s.method, 'vanilla', 'the second column\'s result does not change the panel\'s method');
    s = fromUser(s, { type: 'method', method: 'guided' }).state;
    assert.equal(slotMethod(s, 0), 'guided');
    assert.equal(slotMethod(s, 1), 'gradcam');
    assert.equal(s.slots[1].result?.layer, 'conv1');
  });

  it('starts the second column afresh when it changes method, keeping the first', () => {
    let s = panel('vanilla', [{ modelPath: MODEL }, { modelPath: MODEL, method: 'gradcam' }]);
    s = fromHost(s, { type: 'result', requestId: 1, slot: 0, result: result() }).state;
    s = fromHost(s, { type: 'result', requestId: 1, slot: 1, result: result({ method: 'gradcam' }) }).state;
    const changed = fromHost(s, context([{ modelPath: MODEL }, { modelPath: MODEL, method: 'occlusion' }])).state;
    assert.ok(changed.slots[0].result);
    assert.equal(changed.slots[1].result, undefined);
    const stopped = fromHost(s, context()).state;
    assert.equal(stopped.slots.length, 1);
    assert.ok(!comparingMethods(stopped));
  });

  it('persists the comparison and the parameters across a reload', () => {
    let s = panel('smoothgrad', [{ modelPath: MODEL }, { modelPath: MODEL, method: 'gradcam' }]);
    s = fromUser(s, { type: 'options', patch: { samples: 7, metrics: true, layer: 'conv1' } }).state;
    const saved = JSON.parse(JSON.stringify(persistable(s)));
    assert.deepEqual(saved.models, [MODEL], 'a method comparison has one model');
    assert.equal(saved.compareMethod, 'gradcam');
    const back = initialState(saved);
    assert.deepEqual(back.slots.map((x) => [x.modelPath, x.method]), [[MODEL, undefined], [MODEL, 'gradcam']]);
    assert.deepEqual(back.options, { samples: 7, metrics: true, layer: 'conv1' });
    assert.equal(back.method, 'smoothgrad');
  });
});

describe('faithfulness display helpers', () => {
  it('formats AUCs and completeness gaps', () => {
    assert.equal(formatAuc(0.12345), '0.123');
    assert.equal(formatAuc(Number.NaN), '–');
    assert.equal(formatGap(0.0026), '0.3%');
    assert.equal(formatGap(0.5), '50%');
    assert.equal(formatGap(0.00001), '<0.1%');
    assert.equal(formatGap(0), '0%');
  });

  it('maps a curve into the chart box: x by fraction, y by score (clamped)', () => {
    const box = { width: 110, height: 60, left: 10, right: 0, top: 0, bottom: 10 };
    assert.equal(curvePoints({ fractions: [0, 0.5, 1], scores: [1, 0.5, -3] }, box), '10.0,0.0 60.0,25.0 110.0,50.0');
  });

  it('reads the randomisation check from its most randomised correlation', () => {
    const list = (rho: number) => [{ layer: 'logits', spearman: 0.9 }, { layer: 'conv1', spearman: rho }];
    assert.match(interpretRandomization(list(0.1)), /conv1.*0\.10.*passes the sanity check/);
    assert.match(interpretRandomization(list(0.6)), /only partly/);
    assert.match(interpretRandomization(list(0.95)), /fails the sanity check/);
    assert.match(interpretRandomization([]), /No layer/);
  });
});
