/** The click-to-overlay timing of panel results: where the time went between a user's action and the overlay on screen. */
import type { ExplainResult, MethodName } from '../shared/protocol';

/** Where one column's time went between the user's action and its overlay on screen (Date.now() times). */
export interface OverlayTiming {
  image: string;
  method: MethodName;
  /** The column (0-based) and how many the panel has. */
  slot: number;
  slots: number;
  /** The click (command or panel action), the request reaching the engine, its result arriving, the webview's report. */
  clickAt: number;
  sentAt: number;
  receivedAt: number;
  renderedAt: number;
  /** The engine's own measurements. */
  timingMs: ExplainResult['timingMs'];
  /** The webview's drawing time, when it reported one. */
  renderMs?: number;
}

/**
 * The click-to-overlay log line, e.g. `cat.png · vanilla: click → overlay 1234 ms (engine start 300, load 100,
 * inference 60, attribution 110, other 5, messaging 20, render 12)`; the parts add up to the total.
 * "engine start" is the wait until the engine took the request (starting the process, or requests ahead of
 * it; for a second column "queued", which includes the first column); "other" is the engine's time outside
 * its measured phases (reading the image, faithfulness metrics) and IPC; "messaging" the trips to and from
 * the webview and its wait to draw.
 */
export function overlayTimingLine(t: OverlayTiming): string {
  const { load, inference, attribution } = t.timingMs;
  const render = Math.max(0, t.renderMs ?? 0);
  const parts: Array<[string, number]> = [
    [t.slot === 0 ? 'engine start' : 'queued', t.sentAt - t.clickAt],
    ['load', load],
    ['inference', inference],
    ['attribution', attribution],
    ['other', t.receivedAt - t.sentAt - load - inference - attribution],
    ['messaging', t.renderedAt - t.receivedAt - render],
    ['render', render],
  ];
  const column = t.slots > 1 ? ` (column ${t.slot + 1})` : '';
  const ms = (x: number): string => Math.max(0, x).toFixed(0);
  return `${t.image} · ${t.method}${column}: click → overlay ${ms(t.renderedAt - t.clickAt)} ms (${parts.map(([k, v]) => `${k} ${ms(v)}`).join(', ')})`;
}

/** Results posted to the webview whose overlay is not reported yet; turns the report into the log line. */
export class OverlayTimings {
  private readonly waiting = new Map<string, Omit<OverlayTiming, 'renderedAt' | 'renderMs'>>();

  /** A column's result was posted to the webview (request `requestId`). */
  received(requestId: number, timing: Omit<OverlayTiming, 'renderedAt' | 'renderMs'>): void {
    this.waiting.set(`${requestId}/${timing.slot}`, timing);
  }

  /** The webview drew a result: its log line, once per result (a reloaded webview draws the same results again). */
  rendered(requestId: number, slot: number, renderMs: unknown, now = Date.now()): string | undefined {
    const key = `${requestId}/${slot}`;
    const t = this.waiting.get(key);
    if (!t) return undefined;
    this.waiting.delete(key);
    return overlayTimingLine({ ...t, renderedAt: now, renderMs: typeof renderMs === 'number' && Number.isFinite(renderMs) ? renderMs : undefined });
  }

  /** Drops requests older than `requestId`: their overlays are not coming any more (drawn unreported, or dropped). */
  forgetBefore(requestId: number): void {
    for (const k of this.waiting.keys()) if (Number(k.split('/')[0]) < requestId) this.waiting.delete(k);
  }

  /** How many overlays are awaited (for tests). */
  get size(): number {
    return this.waiting.size;
  }
}
