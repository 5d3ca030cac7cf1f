// The filter grid's state in the webview: tiles filled live, finished with before/after values, captions, keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FilterImage, ToFeatureWebviewMessage } from '../../src/shared/protocol';
import { emptyFeatureState, featureReducer, formatValue, moveFocus, tileCaption, tileFileName } from '../../webview/filterState';

const img = (index: number | null, v: number, before = 0, after = 0): FilterImage =>
  ({ index, before, after, image: { width: 1, height: 1, data: new Uint8Array([v, v, v, 255]).buffer } });
const ctx: ToFeatureWebviewMessage = { type: 'featureContext', kind: 'filters', title: 'Filters: b3', modelName: 'demo', layer: 'b3', filters: [2, 5, 7], steps: 16 };

describe('filter grid state', () => {
  it('fills tiles live in the requested order and finishes them', () => {
    let s = featureReducer(emptyFeatureState(), ctx);
    assert.deepEqual(s.tiles.map((t) => t.index), [2, 5, 7]);
    assert.ok(s.tiles.every((t) => !t.image));
    // The engine batches filters: images arrive for some tiles first.
    s = featureReducer(s, { type: 'featureImages', step: 4, steps: 16, images: [img(7, 10), img(2, 10)] });
    assert.deepEqual(s.tiles.map((t) => t.step), [4, 0, 4]);
    assert.equal(tileCaption(s.tiles[0]), '#2 · step 4');
    assert.equal(tileCaption(s.tiles[1]), '#5 · waiting');
    s = featureReducer(s, { type: 'featureImages', step: 8, steps: 16, images: [img(5, 20)] });
    assert.equal(s.step, 8);
    assert.equal(s.done, false);
    s = featureReducer(s, {
      type: 'featureResult',
      result: { backend: 'cpu', model: {} as never, layer: 'b3', objective: 'channel', param: 'fourier', steps: 16, filters: [img(2, 1, 0.1, 3), img(5, 1, 0.2, 4), img(7, 1, 0.01, 12345)], timingMs: { load: 1, optimize: 1 } },
    });
    assert.equal(s.done, true);
    assert.deepEqual(s.tiles.map((t) => [t.index, t.before, t.after, t.step]), [[2, 0.1, 3, 16], [5, 0.2, 4, 16], [7, 0.01, 12345, 16]]);
    assert.equal(tileCaption(s.tiles[2]), '#7 · 0.01 → 1.23e+4');
    // Late live images do not overwrite the final ones.
    const late = featureReducer(s, { type: 'featureImages', step: 12, steps: 16, images: [img(2, 99)] });
    assert.equal(late, s);
  });

  it('keeps the tiles when the context is sent again (webview reload), tracks busy and errors', () => {
    let s = featureReducer(emptyFeatureState(), ctx);
    s = featureReducer(s, { type: 'featureImages', step: 4, steps: 16, images: [img(2, 10)] });
    s = featureReducer(s, ctx);
    assert.ok(s.tiles[0].image);
    s = featureReducer(s, { type: 'featureBusy', message: 'Visualising…', fraction: 0.5 });
    assert.deepEqual(s.busy, { message: 'Visualising…', fraction: 0.5 });
    s = featureReducer(s, { type: 'featureBusy', message: '' });
    assert.equal(s.busy, undefined);
    s = featureReducer(s, { type: 'featureError', message: 'Cancelled.', cancelled: true });
    assert.deepEqual(s.error, { message: 'Cancelled.', cancelled: true });
  });

  it('adds tiles for images it was not told about (a whole-layer dream)', () => {
    let s = featureReducer(emptyFeatureState(), { ...ctx, kind: 'dream', title: 'Dream: cat.png', filters: [null] });
    s = featureReducer(s, { type: 'featureImages', step: 1, steps: 20, images: [img(null, 5)] });
    assert.equal(s.tiles.length, 1);
    assert.equal(tileCaption(s.tiles[0]), 'whole layer · step 1');
    assert.equal(tileFileName(s, s.tiles[0]), 'cat.dream.b3.png');
    assert.equal(tileFileName({ kind: 'filters', layer: 'block3/relu', title: '' }, { index: 4, step: 0 }), 'block3_relu.filter4.png');
  });

  it('formats values and moves the focus with the arrow keys', () => {
    assert.equal(formatValue(0), '0');
    assert.equal(formatValue(1.23456), '1.23');
    assert.equal(formatValue(-0.0001234), '-1.23e-4');
    assert.equal(moveFocus(0, 'ArrowRight', 6, 3), 1);
    assert.equal(moveFocus(0, 'ArrowLeft', 6, 3), 0);
    assert.equal(moveFocus(1, 'ArrowDown', 6, 3), 4);
    assert.equal(moveFocus(4, 'ArrowDown', 6, 3), 4);
    assert.equal(moveFocus(4, 'ArrowUp', 6, 3), 1);
    assert.equal(moveFocus(4, 'Home', 6, 3), 0);
    assert.equal(moveFocus(1, 'End', 6, 3), 5);
    assert.equal(moveFocus(1, 'a', 6, 3), 1);
  });
});
