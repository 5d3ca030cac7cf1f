/**
 * Panel re-render cost: what a colour map, opacity, clip or channel-reduction change costs in the webview's
 * pure rendering code (no DOM: the canvas upload is extra), for a 1024×1024 input image with a map at model
 * resolution (224×224×3 signed gradient, resized to the image) and at image resolution (1024×1024×3), plus a
 * 7×7 CAM map. The staged renderer the panel uses is timed interleaved with the one-shot path it replaced
 * (prepareMap → colorize → overlay, as the panel did before).
 *
 * With --webview, also the panel's painter (rendering plus canvas uploads) in headless Chromium (renderWebview.ts).
 *
 *   node --import tsx bench/render.ts [--runs N] [--no-baseline] [--webview] [--json]
 */
import { parseArgs } from 'node:util';
import type { Attribution, DisplaySettings } from '../src/shared/protocol';
import { type AttributionLike, colorize, type NormalizedMap, overlay, prepareMap, type RgbaLike, StagedRenderer } from '../src/shared/render';

/** One measured interaction. */
export interface RenderBenchRow {
  /** 'colormap', 'alpha', 'clip', 'reduce' or 'new result' (first paint of a result). */
  interaction: string;
  /** 'staged' (the panel's renderer), 'one-shot' (the path it replaced), 'webview' (the painter in Chromium). */
  path: 'staged' | 'one-shot' | 'webview';
  /** Image and map sizes, e.g. "1024×1024 image, 224×224×3 map". */
  size: string;
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Median CPU time of the process (ms): less sensitive than wall time to other load on the machine (Node rows). */
  cpuMedianMs?: number;
}

/** Options of benchRender. */
export interface RenderBenchOptions {
  /** Timed runs per row (default 20, after 3 warm-up runs). */
  runs?: number;
  /** Also time the one-shot path (default true). */
  baseline?: boolean;
  /** Side of the square input image (default 1024). */
  imageSize?: number;
}

/** The frame budget the interactions must fit in (ms). */
export const FRAME_MS = 16;

/** A deterministic pseudo-random generator (LCG), so every run renders the same pictures. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A heavy-tailed signed "gradient": Gaussian noise times a bump, like a real saliency map. */
function gradient(height: number, width: number, channels: number, seed: number): Attribution & { data: ArrayBuffer } {
  const next = lcg(seed);
  const data = new Float32Array(height * width * channels);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bump = Math.exp(-(((x / width - 0.5) ** 2 + (y / height - 0.45) ** 2) / 0.05));
      for (let c = 0; c < channels; c++, i++) {
        const g = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
        data[i] = g * 0.01 * (0.1 + bump);
      }
    }
  }
  return { height, width, channels, data: data.buffer, signed: channels === 3 };
}

function image(side: number): RgbaLike {
  const data = new Uint8Array(side * side * 4);
  const next = lcg(7);
  for (let i = 0; i < data.length; i++) data[i] = (i & 3) === 3 ? 255 : (next() * 256) | 0;
  return { width: side, height: side, data: data.buffer };
}

/** What the panel's painter did before the staged renderer: normalise on reduce/clip, re-colour and blend on every change. */
class OneShotPainter {
  private cached: { reduce: string; clip: number; map: NormalizedMap } | undefined;
  constructor(private readonly attribution: AttributionLike, private readonly input: RgbaLike) {}
  paint(display: DisplaySettings): number {
    const c = this.cached;
    if (!c || c.reduce !== display.reduce || c.clip !== display.clipPercentile) {
      const map = prepareMap(this.attribution, display.reduce, display.clipPercentile, this.input.width, this.input.height);
      this.cached = { reduce: display.reduce, clip: display.clipPercentile, map };
    }
    const map = this.cached!.map;
    return colorize(map, display.colormap).data[0] + overlay(this.input, map, display.colormap, display.alpha).data[0];
  }
}

type Interaction = 'colormap' | 'alpha' | 'clip' | 'reduce' | 'new result';
const INTERACTIONS: Interaction[] = ['colormap', 'alpha', 'clip', 'reduce', 'new result'];
const BASE: DisplaySettings = { colormap: 'viridis', alpha: 0.5, clipPercentile: 99, reduce: 'max-abs' };

/** The display after the i-th change of one control (two values alternating, so each render is a change). */
function changed(what: Interaction, i: number): DisplaySettings {
  const odd = i % 2 === 1;
  switch (what) {
    case 'colormap': return { ...BASE, colormap: odd ? 'jet' : 'viridis' };
    case 'alpha': return { ...BASE, alpha: odd ? 0.65 : 0.5 };
    case 'clip': return { ...BASE, clipPercentile: odd ? 97.5 : 99 };
    case 'reduce': return { ...BASE, reduce: odd ? 'l2' : 'max-abs' };
    case 'new result': return BASE;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summary(interaction: string, path: RenderBenchRow['path'], size: string, times: Array<[number, number]>): RenderBenchRow {
  const wall = times.map((t) => t[0]);
  return {
    interaction, path, size, runs: times.length, medianMs: median(wall), minMs: Math.min(...wall), maxMs: Math.max(...wall),
    cpuMedianMs: median(times.map((t) => t[1])),
  };
}

/** Times each interaction for each map size; the staged and one-shot paths alternate run by run. */
export async function benchRender(opts: RenderBenchOptions = {}): Promise<RenderBenchRow[]> {
  const runs = opts.runs ?? 20;
  const side = opts.imageSize ?? 1024;
  const baseline = opts.baseline ?? true;
  const input = image(side);
  const cases: Array<[string, AttributionLike]> = [
    [`${side}×${side} image, 224×224×3 map`, gradient(224, 224, 3, 1)],
    [`${side}×${side} image, ${side}×${side}×3 map`, gradient(side, side, 3, 2)],
    [`${side}×${side} image, 7×7 CAM`, gradient(7, 7, 1, 3)],
  ];
  const rows: RenderBenchRow[] = [];
  for (const [size, attribution] of cases) {
    for (const what of INTERACTIONS) {
      const staged = new StagedRenderer();
      staged.setSource(attribution, input);
      staged.render(changed(what, 0));
      const oneShot = new OneShotPainter(attribution, input);
      oneShot.paint(changed(what, 0));
      const times: Record<'staged' | 'one-shot', Array<[number, number]>> = { staged: [], 'one-shot': [] };
      for (let i = 1; i <= runs + 3; i++) {
        const display = changed(what, i);
        const sides: Array<['staged' | 'one-shot', () => void]> = [
          ['staged', () => {
            if (what === 'new result') staged.setSource(attribution, input);
            staged.render(display);
          }],
          ...(baseline ? [['one-shot', () => {
            const painter = what === 'new result' ? new OneShotPainter(attribution, input) : oneShot;
            painter.paint(display);
          }] as ['one-shot', () => void]] : []),
        ];
        // Alternate which side goes first, so neither always runs after the other's garbage.
        if (i % 2) sides.reverse();
        for (const [path, run] of sides) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          run();
          const ms = performance.now() - t0;
          const c = process.cpuUsage(c0);
          if (i > 3) times[path].push([ms, (c.user + c.system) / 1000]);
        }
      }
      rows.push(summary(what, 'staged', size, times.staged));
      if (baseline) rows.push(summary(what, 'one-shot', size, times['one-shot']));
      // Let the event loop breathe between rows (and a caller show progress).
      await new Promise((r) => setImmediate(r));
    }
  }
  return rows;
}

/** The rows as a Markdown table (wall-time medians with min–max, and CPU-time medians); ≤ 16 ms judges the wall median. */
export function renderTable(rows: RenderBenchRow[]): string {
  const lines = ['| size | interaction | path | median ms | min–max ms | CPU median ms | ≤ 16 ms |', '|---|---|---|---:|---:|---:|:---:|'];
  for (const r of rows) {
    const ok = r.interaction === 'new result' || r.interaction === 'reduce' ? '' : r.medianMs <= FRAME_MS ? 'yes' : 'no';
    lines.push(`| ${r.size} | ${r.interaction} | ${r.path} | ${r.medianMs.toFixed(2)} | ${r.minMs.toFixed(2)}–${r.maxMs.toFixed(2)} | ${r.cpuMedianMs?.toFixed(2) ?? '–'} | ${ok} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, 'no-baseline': { type: 'boolean' }, webview: { type: 'boolean' }, json: { type: 'boolean' } } });
  const runs = values.runs === undefined ? undefined : Number(values.runs);
  if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1)) throw new Error(`bench/render: --runs must be an integer ≥ 1 (got ${values.runs})`);
  const rows = await benchRender({ runs, baseline: !values['no-baseline'] });
  if (values.webview) rows.push(...await (await import('./renderWebview')).benchRenderWebview({ runs }));
  const note = `Node ${process.version} rows: pure JS, no canvas${values.webview ? '; webview rows: SlotPainter.paint with its putImageData calls in headless Chromium' : ' (--webview: the painter in Chromium)'}.`;
  process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : `${renderTable(rows)}\n\n${note}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
