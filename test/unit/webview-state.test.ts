import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeExplainResult } from '../helpers/explainResult';
import type { ExplainResult, ToWebviewMessage } from '../../src/shared/protocol';
import {
  checkpointText, formatProbability, fromHost, fromUser, initialState, persistable, searchLabels, type PanelState,
} from '../../webview/state';

function result(over: Partial<ExplainResult> = {}): ExplainResult {
  return fakeExplainResult(over);
}

function withContext(models = ['/w/a/model.json']): PanelState {
  const msg: ToWebviewMessage = {
    type: 'context', imagePath: '/w/cat.png', imageName: 'cat.png', methods: ['vanilla', 'guided'],
    slots: models.map((p) => ({ modelPath: p, modelName: p.split('/').at(-2)! })),
  };
  return fromHost(initialState(), msg).state;
}

describe('webview state: display controls', () => {
  it('re-colours without asking the engine when the colour map or alpha changes', () => {
    const s = withContext();
    const u = fromUser(s, { type: 'display', patch: { colormap: 'jet' } });
    assert.equal(u.render, 'recolor');
    assert.deepEqual(u.post.map((m) => m.type), ['displayChanged']);
    assert.ok(!u.post.some((m) => m.type === 'recompute'));
    assert.equal(u.state.display.colormap, 'jet');
    assert.equal(fromUser(u.state, { type: 'display', patch: { alpha: 0.8 } }).render, 'recolor');
  });

  it('re-normalises (still locally) when the reduction or the clip percentile changes', () => {
    const s = withContext();
    for (const patch of [{ reduce: 'l2' as const }, { clipPercentile: 95 }]) {
      const u = fromUser(s, { type: 'display', patch });
      assert.equal(u.render, 'remap');
      assert.ok(!u.post.some((m) => m.type === 'recompute'));
    }
  });

  it('ignores a no-op change and clamps / rejects bad values', () => {
    const s = withContext();
    assert.equal(fromUser(s, { type: 'display', patch: { colormap: s.display.colormap } }).render, 'none');
    const u = fromUser(s, { type: 'display', patch: { alpha: 7, clipPercentile: -3, colormap: 'rainbow' as never } });
    assert.equal(u.state.display.alpha, 1);
    assert.equal(u.state.display.clipPercentile, 50);
    assert.equal(u.state.display.colormap, s.display.colormap);
  });
});

describe('webview state: recomputation', () => {
  it('asks the host to recompute on a method change', () => {
    const u = fromUser(withContext(), { type: 'method', method: 'guided' });
    assert.deepEqual(u.post, [{ type: 'recompute', method: 'guided', options: {} }]);
    assert.equal(u.state.method, 'guided');
  });

  it('targets a class, and sends "" to go back to the top-1', () => {
    const s = withContext();
    const a = fromUser(s, { type: 'target', target: 281 });
    assert.deepEqual(a.post, [{ type: 'recompute', target: 281, options: {} }]);
    const b = fromUser(a.state, { type: 'target', target: undefined });
    assert.deepEqual(b.post, [{ type: 'recompute', target: '', options: {} }]);
    assert.equal(b.state.target, undefined);
  });

  it('asks for all labels once, on the first search', () => {
    const s = withContext();
    const a = fromUser(s, { type: 'labelQuery', text: '' });
    assert.deepEqual(a.post, []);
    const b = fromUser(a.state, { type: 'labelQuery', text: 'ta' });
    assert.deepEqual(b.post, [{ type: 'requestLabels' }]);
    const c = fromUser(b.state, { type: 'labelQuery', text: 'tab' });
    assert.deepEqual(c.post, []);
  });
});

describe('webview state: host messages', () => {
  it('stores a result, counts it and ignores a stale one', () => {
    const s = withContext();
    const fresh = fromHost(s, { type: 'result', requestId: 2, slot: 0, result: result({ method: 'guided' }) });
    assert.equal(fresh.render, 'remap');
    assert.equal(fresh.state.resultsReceived, 1);
    assert.equal(fresh.state.method, 'guided');
    const stale = fromHost(fresh.state, { type: 'result', requestId: 1, slot: 0, result: result() });
    assert.equal(stale.render, 'none');
    assert.equal(stale.state.slots[0].result?.method, 'guided');
  });

  it('shows an error in its slot and clears it with the next result', () => {
    const s = withContext(['/w/a/model.json', '/w/b/model.json']);
    const e = fromHost(s, { type: 'error', requestId: 1, slot: 1, message: 'b: unsupported op' });
    assert.equal(e.state.slots[0].error, undefined);
    assert.equal(e.state.slots[1].error, 'b: unsupported op');
    const r = fromHost(e.state, { type: 'result', requestId: 2, slot: 1, result: result() });
    assert.equal(r.state.slots[1].error, undefined);
  });

  it('drops the picture on a failure but keeps it (and its method) on a cancel', () => {
    let s = fromHost(withContext(), { type: 'result', requestId: 1, slot: 0, result: result() }).state;
    s = fromUser(s, { type: 'method', method: 'guided' }).state;
    const cancelled = fromHost(s, { type: 'error', requestId: 2, slot: 0, message: 'Cancelled.', cancelled: true }).state;
    assert.ok(cancelled.slots[0].result);
    assert.equal(cancelled.method, 'vanilla');
    const failed = fromHost(s, { type: 'error', requestId: 2, slot: 0, message: 'guided: unsupported op' }).state;
    assert.equal(failed.slots[0].result, undefined);
    assert.equal(failed.slots[0].error, 'guided: unsupported op');
    assert.equal(failed.method, 'guided');
  });

  it('ends the busy state only for the request that finished', () => {
    const s = fromHost(withContext(), { type: 'busy', requestId: 3, message: 'Computing…' }).state;
    assert.equal(fromHost(s, { type: 'busy', requestId: 2, message: '' }).state.busy?.requestId, 3);
    assert.equal(fromHost(s, { type: 'busy', requestId: 3, message: '' }).state.busy, undefined);
  });

  it('keeps a slot only while it shows the same model', () => {
    let s = withContext(['/w/a/model.json']);
    s = fromHost(s, { type: 'result', requestId: 1, slot: 0, result: result() }).state;
    s = fromHost(s, { type: 'labels', labels: ['x', 'y', 'tabby'] }).state;
    const same = fromHost(s, { type: 'context', imagePath: '/w/cat.png', imageName: 'cat.png', methods: ['vanilla'], slots: [{ modelPath: '/w/a/model.json', modelName: 'a' }, { modelPath: '/w/b/model.json', modelName: 'b' }] }).state;
    assert.ok(same.slots[0].result);
    assert.equal(same.slots[1].result, undefined);
    assert.deepEqual(same.labels, ['x', 'y', 'tabby']);
    const other = fromHost(s, { type: 'context', imagePath: '/w/cat.png', imageName: 'cat.png', methods: ['vanilla'], slots: [{ modelPath: '/w/c/model.json', modelName: 'c' }] }).state;
    assert.equal(other.slots[0].result, undefined);
    assert.equal(other.labels, undefined, 'labels belong to the old model');
  });
});

describe('webview state: persistence', () => {
  it('saves JSON-safe state without pixel data and restores it', () => {
    let s = withContext(['/w/a/model.json', '/w/b/model.json']);
    s = fromHost(s, { type: 'result', requestId: 1, slot: 0, result: result() }).state;
    s = fromUser(s, { type: 'display', patch: { colormap: 'inferno', alpha: 0.3 } }).state;
    s = fromUser(s, { type: 'target', target: 'tabby' }).state;
    const saved = JSON.parse(JSON.stringify(persistable(s)));
    assert.ok(!JSON.stringify(saved).includes('attribution'));
    const back = initialState(saved);
    assert.equal(back.imagePath, '/w/cat.png');
    assert.deepEqual(back.slots.map((x) => x.modelPath), ['/w/a/model.json', '/w/b/model.json']);
    assert.equal(back.slots[0].modelName, 'a');
    assert.equal(back.display.colormap, 'inferno');
    assert.equal(back.display.alpha, 0.3);
    assert.equal(back.target, 'tabby');
  });

  it('survives garbage state', () => {
    for (const junk of [undefined, null, 42, 'x', { method: 'nope', display: { colormap: 3 }, models: [1, 2] }]) {
      const s = initialState(junk);
      assert.equal(s.method, 'vanilla');
      assert.equal(s.display.colormap, 'viridis');
      assert.deepEqual(s.slots, []);
    }
  });
});

describe('webview helpers', () => {
  const labels = ['tench', 'goldfish', 'tabby', 'tiger cat', 'cat food', 'Persian cat'];

  it('searches labels: exact, then prefix, then substring, or by index', () => {
    assert.deepEqual(searchLabels(labels, 'cat').map((x) => x.label), ['cat food', 'tiger cat', 'Persian cat']);
    assert.deepEqual(searchLabels(labels, 'TABBY'), [{ index: 2, label: 'tabby' }]);
    assert.deepEqual(searchLabels(labels, '1'), [{ index: 1, label: 'goldfish' }]);
    assert.deepEqual(searchLabels(labels, '  '), []);
    assert.equal(searchLabels(labels, 't', 2).length, 2);
  });

  it('describes a checkpoint time relative to now', () => {
    const now = Date.UTC(2025, 0, 2, 12, 0, 0);
    assert.match(checkpointText(now - 90_000, now, 'en-GB'), /^checkpoint .+ \(2 min ago\)$/);
    assert.match(checkpointText(now - 5_000, now, 'en-GB'), /\(5 s ago\)$/);
    assert.match(checkpointText(now - 3 * 86_400_000, now, 'en-GB'), /\(3 d ago\)$/);
    assert.equal(checkpointText(0, now), '');
  });

  it('formats probabilities', () => {
    assert.equal(formatProbability(0.9876), '98.8%');
    assert.equal(formatProbability(0.0123), '1.23%');
    assert.equal(formatProbability(0.0000123), '<0.01%');
    assert.equal(formatProbability(0.99999), '>99.9%', 'an almost-sure class does not read as certain');
    assert.equal(formatProbability(1), '100.0%');
  });
});
