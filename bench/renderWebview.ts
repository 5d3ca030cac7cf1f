/**
 * The panel's painter (webview/paint.ts: staged rendering plus the canvas uploads) timed in headless
 * Chromium, the engine VS Code's webviews run on: what a colour map, opacity or clip change costs on screen.
 * Used by `node --import tsx bench/render.ts --webview`; needs playwright-core and a Chromium
 * (SALIENCY_LENS_E2E_CHROMIUM, default /usr/bin/chromium).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import type { RenderBenchRow } from './render';

const ROOT = resolve(__dirname, '..');

// The page's script, bundled with the painter. Kept as source text: it uses the DOM, which the Node
// typecheck of bench/ does not know. Data as in render.ts: a heavy-tailed signed gradient, random pixels.
const PAGE = `
import { SlotPainter } from './webview/paint';
function lcg(seed) { let s = seed >>> 0; return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; }; }
function result(mapSide, channels, side) {
  const next = lcg(mapSide);
  const a = new Float32Array(mapSide * mapSide * channels);
  for (let i = 0; i < a.length; i++) a[i] = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next()) * 0.01;
  const img = new Uint8Array(side * side * 4);
  for (let i = 0; i < img.length; i++) img[i] = (i & 3) === 3 ? 255 : (next() * 256) | 0;
  return { input: { width: side, height: side, data: img.buffer }, attribution: { height: mapSide, width: mapSide, channels, data: a.buffer, signed: channels === 3 } };
}
const BASE = { colormap: 'viridis', alpha: 0.5, clipPercentile: 99, reduce: 'max-abs' };
const CHANGES = [['colormap', { colormap: 'jet' }, 'recolor'], ['alpha', { alpha: 0.65 }, 'recolor'], ['clip', { clipPercentile: 97.5 }, 'remap']];
window.benchPaint = async (runs, side) => {
  const rows = [];
  const canvas = () => document.body.appendChild(document.createElement('canvas'));
  for (const [mapSide, channels, name] of [[224, 3, '224×224×3 map'], [side, 3, side + '×' + side + '×3 map'], [7, 1, '7×7 CAM']]) {
    const r = result(mapSide, channels, side);
    const painter = new SlotPainter();
    const canvases = { input: canvas(), map: canvas(), overlay: canvas() };
    painter.paint(r, BASE, canvases, 'remap');
    for (const [what, patch, need] of CHANGES) {
      const times = [];
      for (let i = 0; i < runs + 3; i++) {
        // One change per frame, as a user makes them.
        await new Promise((done) => requestAnimationFrame(done));
        const t0 = performance.now();
        painter.paint(r, i % 2 ? { ...BASE, ...patch } : BASE, canvases, need);
        if (i >= 3) times.push(performance.now() - t0);
      }
      rows.push({ interaction: what, size: side + '×' + side + ' image, ' + name, times });
    }
  }
  return rows;
};
`;

/** Times SlotPainter.paint (rendering and putImageData) for each interaction in headless Chromium. */
export async function benchRenderWebview(opts: { runs?: number; imageSize?: number } = {}): Promise<RenderBenchRow[]> {
  const executablePath = process.env.SALIENCY_LENS_E2E_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`chromium not found at ${executablePath} (set SALIENCY_LENS_E2E_CHROMIUM)`);
  const bundle = await build({ stdin: { contents: PAGE, resolveDir: ROOT, loader: 'js' }, bundle: true, format: 'iife', write: false, logLevel: 'silent' });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><body></body>');
    await page.addScriptTag({ content: bundle.outputFiles[0].text });
    const measured = await page.evaluate(([runs, side]) => (globalThis as unknown as {
      benchPaint(runs: number, side: number): Promise<Array<{ interaction: string; size: string; times: number[] }>>;
    }).benchPaint(runs, side), [opts.runs ?? 20, opts.imageSize ?? 1024] as const);
    return measured.map(({ interaction, size, times }) => {
      const s = [...times].sort((a, b) => a - b);
      const m = s.length >> 1;
      return { interaction, path: 'webview' as const, size, runs: s.length, medianMs: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, minMs: s[0], maxMs: s[s.length - 1] };
    });
  } finally {
    await browser.close();
  }
}
