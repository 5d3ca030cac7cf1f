// What a filter grid / dream webview saves across reloads and how it starts again from it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FeatureJob, FeatureVisResult, FilterImage, ToFeatureWebviewMessage } from '../../src/shared/protocol';
import { fromBase64, MAX_SAVED_IMAGE_BYTES, restoreFeature, saveFeature, toBase64, worthSaving } from '../../webview/featureSave';
import { canRunAgain, emptyFeatureState, featureReducer, type FeatureState } from '../../webview/filterState';

const job: FeatureJob = { kind: 'filters', params: { modelPath: '/w/m/model.json', layer: 'b3', filters: [2, 5], options: { steps: 16 } } };
const ctx: ToFeatureWebviewMessage = { type: 'featureContext', kind: 'filters', title: 'Filters: b3', modelName: 'm', layer: 'b3', filters: [2, 5], steps: 16, job };
/** A side×side image whose bytes differ from pixel to pixel (so a decoding slip shows). */
const img = (index: number, side: number, before = 0.5, after = 4): FilterImage => ({
  index, before, after, image: { width: side, height: side, data: Uint8Array.from({ length: side * side * 4 }, (_, i) => (i * 7 + index) & 255).buffer },
});
const result = (side: number): FeatureVisResult => ({
  backend: 'cpu', model: {} as never, layer: 'b3', objective: 'channel', param: 'fourier', steps: 16, filters: [img(2, side, 0.1, 3), img(5, side, 0.2, 4)], timingMs: { load: 1, optimize: 1 },
});
const run = (...msgs: ToFeatureWebviewMessage[]): FeatureState => msgs.reduce(featureReducer, emptyFeatureState());
/** Through JSON, as VS Code stores webview state. */
const reload = (s: FeatureState, maxBytes?: number): FeatureState => restoreFeature(JSON.parse(JSON.stringify(saveFeature(s, maxBytes))));
const bytes = (t: { image?: { data: ArrayBuffer } }): number[] => [...new Uint8Array(t.image!.data)];

describe('feature panel saved state', () => {
  it('base64 round-trips bytes, including buffers longer than one chunk', () => {
    const big = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31) & 255);
    assert.deepEqual(new Uint8Array(fromBase64(toBase64(big.buffer))!), big);
    assert.equal(toBase64(new Uint8Array([0, 255, 1]).buffer), 'AP8B');
    assert.equal(fromBase64('not base64!'), undefined);
  });

  it('brings a finished grid back as it was: tiles, pixels, values, done, and the host\'s job', () => {
    const s = run(ctx, { type: 'featureBusy', message: 'Visualising…' }, { type: 'featureResult', result: result(8) }, { type: 'featureBusy', message: '' });
    const saved = saveFeature(s);
    assert.equal(saved.complete, true);
    assert.equal(saved.busy, false);
    const back = reload(s);
    assert.equal(back.done, true);
    assert.equal(back.title, 'Filters: b3');
    assert.deepEqual(back.job, job);
    assert.deepEqual(back.tiles.map((t) => [t.index, t.before, t.after, t.step, t.image?.width]), [[2, 0.1, 3, 16, 8], [5, 0.2, 4, 16, 8]]);
    assert.deepEqual(bytes(back.tiles[1]), bytes(result(8).filters[1]));
    // The host's context after the reload keeps those tiles.
    assert.equal(featureReducer(back, ctx).tiles, back.tiles);
  });

  it('keeps no images beyond the budget: the tiles come back empty and not done', () => {
    const s = run(ctx, { type: 'featureResult', result: result(8) });
    const perImage = 8 * 8 * 4;
    assert.equal(saveFeature(s, 2 * perImage).complete, true, 'exactly at the budget is kept');
    const saved = saveFeature(s, 2 * perImage - 1);
    assert.equal(saved.complete, false);
    assert.ok(saved.tiles.every((t) => t.image === undefined));
    const back = reload(s, 2 * perImage - 1);
    assert.equal(back.done, false);
    assert.deepEqual(back.tiles.map((t) => [t.index, t.image, t.before]), [[2, undefined, undefined], [5, undefined, undefined]]);
    // The default grid (16 filters of 128²) fits the default budget; 16 of 224² does not.
    assert.ok(16 * 128 * 128 * 4 <= MAX_SAVED_IMAGE_BYTES && 16 * 224 * 224 * 4 > MAX_SAVED_IMAGE_BYTES);
  });

  it('a cancelled run comes back with its partial images, the error and Run again', () => {
    const s = run(ctx, { type: 'featureBusy', message: 'Visualising…' }, { type: 'featureImages', step: 4, steps: 16, images: [img(2, 4)] },
      { type: 'featureError', message: 'Cancelled.', cancelled: true }, { type: 'featureBusy', message: '' });
    assert.equal(canRunAgain(s), true);
    const back = reload(s);
    assert.equal(back.done, false);
    assert.deepEqual(back.error, { message: 'Cancelled.', cancelled: true });
    assert.deepEqual(back.tiles.map((t) => [t.index, !!t.image, t.step]), [[2, true, 4], [5, false, 0]]);
    assert.equal(canRunAgain(back), true);
    // Starting again clears the old error and hides the button.
    const again = featureReducer(back, { type: 'featureBusy', message: 'Visualising…' });
    assert.equal(again.error, undefined);
    assert.equal(canRunAgain(again), false);
    assert.equal(canRunAgain(run(ctx, { type: 'featureResult', result: result(2) })), false);
  });

  it('records a run in progress, so the host knows the reload interrupted it', () => {
    const s = run(ctx, { type: 'featureBusy', message: 'Visualising…', fraction: 0.5 });
    assert.equal(saveFeature(s).busy, true);
    assert.equal(reload(s).busy, undefined, 'the host, not the saved state, says whether a run is going on');
  });

  it('starts empty from missing or damaged state', () => {
    for (const bad of [undefined, null, 'x', 42, { tiles: [{ index: 'a' }] }, { tiles: [{ index: -1, step: 0 }] }]) {
      assert.deepEqual(restoreFeature(bad), emptyFeatureState(), JSON.stringify(bad));
    }
    // An image whose size does not match its bytes is dropped, and the grid is not done without it.
    const s = JSON.parse(JSON.stringify(saveFeature(run(ctx, { type: 'featureResult', result: result(2) }))));
    s.tiles[0].image.width = 3;
    const back = restoreFeature(s);
    assert.equal(back.tiles[0].image, undefined);
    assert.equal(back.done, false);
  });

  it('saves on context, results, errors and busy changes, not on live images or progress ticks', () => {
    const a = run(ctx);
    const busy = featureReducer(a, { type: 'featureBusy', message: 'x', fraction: 0.1 });
    const tick: ToFeatureWebviewMessage = { type: 'featureBusy', message: 'x', fraction: 0.2 };
    const live: ToFeatureWebviewMessage = { type: 'featureImages', step: 1, steps: 16, images: [img(2, 2)] };
    assert.equal(worthSaving(a, busy, { type: 'featureBusy', message: 'x', fraction: 0.1 }), true);
    assert.equal(worthSaving(busy, featureReducer(busy, tick), tick), false);
    assert.equal(worthSaving(busy, featureReducer(busy, live), live), false);
    assert.equal(worthSaving(emptyFeatureState(), a, ctx), true);
    assert.equal(worthSaving(busy, busy, { type: 'featureError', message: 'Cancelled.', cancelled: true }), true);
  });
});
