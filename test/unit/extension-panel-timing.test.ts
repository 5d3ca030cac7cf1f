// The click-to-overlay log line: where the time between a user's action and the overlay went.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayTimings, overlayTimingLine, type OverlayTiming } from '../../src/extension/panelTiming';

const base: OverlayTiming = {
  image: 'demo.png', method: 'vanilla', slot: 0, slots: 1,
  clickAt: 1000, sentAt: 1300, receivedAt: 1590, renderedAt: 1634,
  timingMs: { load: 100, inference: 60, attribution: 110 }, renderMs: 12,
};

/** The numbers of a line: the total, then each part. */
function numbers(line: string): number[] {
  return [...line.matchAll(/(\d+)(?= ms| ?[,)])/g)].map((m) => Number(m[1]));
}

describe('overlay timing line', () => {
  it('splits the time from the click to the overlay into parts that add up to it', () => {
    const line = overlayTimingLine(base);
    assert.equal(line, 'demo.png · vanilla: click → overlay 634 ms (engine start 300, load 100, inference 60, attribution 110, other 20, messaging 32, render 12)');
    const [total, ...parts] = numbers(line);
    assert.equal(parts.reduce((a, b) => a + b, 0), total);
  });

  it('names the column of a comparison, and counts a later column\'s wait as queued', () => {
    const line = overlayTimingLine({ ...base, method: 'gradcam', slot: 1, slots: 2 });
    assert.match(line, /^demo\.png · gradcam \(column 2\): click → overlay 634 ms \(queued 300, /);
  });

  it('never shows negative parts, and a render of 0 when the webview did not say', () => {
    // Engine phases measured in the engine can exceed the host's view of the request by clock granularity.
    const line = overlayTimingLine({ ...base, receivedAt: 1500, renderMs: undefined });
    assert.match(line, /other 0, messaging 134, render 0\)$/);
    assert.ok(!line.includes('-'));
  });
});

describe('overlay timings', () => {
  const received = (t: OverlayTimings, requestId: number, slot = 0) => {
    const { renderedAt: _r, renderMs: _m, ...rest } = base;
    t.received(requestId, { ...rest, slot, slots: 2 });
  };

  it('logs a result once, when its overlay is reported, with the webview\'s render time', () => {
    const t = new OverlayTimings();
    received(t, 1, 0);
    received(t, 1, 1);
    assert.equal(t.rendered(1, 2, 5), undefined, 'no such column');
    assert.match(t.rendered(1, 1, 7.4, 1634) ?? '', /column 2.*render 7\)$/);
    assert.equal(t.rendered(1, 1, 7.4), undefined, 'a reloaded webview draws it again: not logged twice');
    assert.match(t.rendered(1, 0, 'soon', 1634) ?? '', /render 0\)$/, 'a malformed render time is left out');
    assert.equal(t.size, 0);
  });

  it('forgets requests whose overlays are no longer expected', () => {
    const t = new OverlayTimings();
    for (const id of [1, 2, 3, 4]) received(t, id);
    t.forgetBefore(3);
    assert.equal(t.size, 2);
    assert.equal(t.rendered(2, 0, 1), undefined);
    assert.ok(t.rendered(3, 0, 1));
  });
});
