/** The feature visualisation webview: a grid of filter (or dream) images filled live, an enlarged view, PNG export. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { FromFeatureWebviewMessage, RgbaImage, ToFeatureWebviewMessage } from '../src/shared/protocol';
import { countOf } from '../src/shared/text';
import { byId, h, setChildren } from './dom';
import { restoreFeature, saveFeature, worthSaving } from './featureSave';
import { canRunAgain, featureReducer, moveFocus, tileCaption, tileFileName, type FeatureState, type Tile } from './filterState';

/** The part of the webview API the grid uses. */
export interface FeatureApi {
  postMessage(message: FromFeatureWebviewMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}

/** Draws an RGBA image on a canvas (sized to the image; CSS scales it). */
function paint(canvas: HTMLCanvasElement, image: RgbaImage): void {
  if (canvas.width !== image.width) canvas.width = image.width;
  if (canvas.height !== image.height) canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
}

/** A canvas's pixels as PNG bytes. */
function pngOf(canvas: HTMLCanvasElement): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? b.arrayBuffer().then(resolve, reject) : reject(new Error('no PNG'))), 'image/png'));
}

/** Builds the grid UI and handles the host's messages. */
export function startFeatures(api: FeatureApi): void {
  // A reloaded webview (hidden then shown, or a window reload) starts from what it saved.
  let state: FeatureState = restoreFeature(api.getState());
  const tileViews: { item: HTMLElement; root: HTMLButtonElement; canvas: HTMLCanvasElement; caption: HTMLElement; image?: RgbaImage }[] = [];
  let lastFocus = 0;
  let liveMessages = 0;

  const app = byId('app');
  const big = h('canvas', { class: 'enlarged-canvas', role: 'img' });
  setChildren(app,
    h('header', { class: 'head' },
      h('h1', { id: 'title' }, 'Feature visualisation'),
      h('div', { class: 'models' },
        h('span', { id: 'model-names' }),
        h('vscode-button', { id: 'export-all', secondary: true, title: 'Save every image as a PNG file' }, 'Export PNGs…'))),
    h('p', { id: 'summary', class: 'method-description' }),
    h('div', { id: 'busy', class: 'busy', role: 'status', hidden: true },
      h('vscode-progress-ring'),
      h('div', { class: 'busy-body' }, h('span', { id: 'busy-text' }), h('vscode-progress-bar', { id: 'busy-progress', max: '1', 'aria-label': 'Progress' })),
      h('vscode-button', { id: 'cancel', secondary: true, title: 'Stop the optimisation (the images so far stay)' }, 'Cancel')),
    h('p', { id: 'error', class: 'error', role: 'alert', hidden: true }),
    h('vscode-button', { id: 'rerun', secondary: true, hidden: true, title: 'Compute the images again' }, 'Run again'),
    h('div', { id: 'grid', class: 'filter-grid', role: 'list', 'aria-label': 'Filters' }),
    h('section', { id: 'enlarged', class: 'enlarged', hidden: true, 'aria-label': 'Enlarged image' },
      h('div', { class: 'enlarged-head' },
        h('h2', { id: 'enlarged-title' }),
        h('vscode-button', { id: 'export-one', secondary: true, title: 'Save this image as a PNG file' }, 'Export PNG…'),
        h('vscode-button', { id: 'close-enlarged', secondary: true, title: 'Back to the grid (Escape)' }, 'Close')),
      big));

  const close = (): void => {
    state = { ...state, enlarged: undefined };
    render();
    tileViews[lastFocus]?.root.focus();
  };
  const exportTiles = async (positions: number[]): Promise<void> => {
    const files: { name: string; data: ArrayBuffer }[] = [];
    for (const p of positions) {
      const view = tileViews[p];
      if (!view?.image) continue;
      const c = document.createElement('canvas');
      paint(c, view.image);
      files.push({ name: tileFileName(state, state.tiles[p]), data: await pngOf(c) });
    }
    api.postMessage({ type: 'exportPngs', files });
  };
  byId('cancel').addEventListener('click', () => api.postMessage({ type: 'cancel' }));
  byId('rerun').addEventListener('click', () => api.postMessage({ type: 'rerun' }));
  byId('close-enlarged').addEventListener('click', close);
  byId('export-all').addEventListener('click', () => void exportTiles(state.tiles.map((_, i) => i)));
  byId('export-one').addEventListener('click', () => { if (state.enlarged !== undefined) void exportTiles([state.enlarged]); });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && state.enlarged !== undefined) close(); });

  /** Tiles in the first row of the wrapped grid (for the up and down arrows). */
  const columns = (): number => {
    const top = tileViews[0]?.root.getBoundingClientRect().top;
    const n = tileViews.filter((v) => v.root.getBoundingClientRect().top === top).length;
    return Math.max(1, n);
  };

  const buildTile = (i: number): (typeof tileViews)[number] => {
    const canvas = h('canvas', { class: 'tile-canvas', 'aria-hidden': 'true' });
    const caption = h('span', { class: 'tile-caption' });
    const root = h('button', { type: 'button', class: 'tile', 'data-tile': String(i) }, canvas, caption);
    root.addEventListener('click', () => {
      lastFocus = i;
      state = { ...state, enlarged: i };
      render();
      byId('close-enlarged').focus();
    });
    root.addEventListener('keydown', (e) => {
      const next = moveFocus(i, e.key, tileViews.length, columns());
      if (next !== i) {
        e.preventDefault();
        tileViews[next].root.focus();
      }
    });
    return { item: h('div', { role: 'listitem', class: 'tile-item' }, root), root, canvas, caption };
  };

  function renderTile(view: (typeof tileViews)[number], tile: Tile): void {
    if (tile.image && tile.image !== view.image) {
      view.image = tile.image;
      paint(view.canvas, tile.image);
    }
    const text = tileCaption(tile);
    if (view.caption.textContent !== text) view.caption.textContent = text;
    view.root.title = `${text}. Enter: enlarge`;
    view.root.setAttribute('aria-label', `Filter ${text}`);
    view.root.classList.toggle('pending', !tile.image);
    view.root.dataset.painted = tile.image ? 'true' : 'false';
    view.root.dataset.done = tile.after !== undefined ? 'true' : 'false';
  }

  function render(): void {
    byId('title').textContent = state.title || 'Feature visualisation';
    byId('model-names').textContent = state.modelName ? `Model: ${state.modelName} · layer ${state.layer}` : '';
    const steps = state.steps ? ` · step ${state.step} of ${state.steps}` : '';
    byId('summary').textContent = state.done
      ? `${countOf(state.tiles.length, 'image')} after ${state.steps} steps. Values: the objective on the start image → on the result. Click a tile (or Enter) to enlarge it.`
      : `${state.tiles.filter((t) => t.image).length} of ${state.tiles.length} images so far${steps}.`;
    const busy = byId('busy');
    busy.hidden = !state.busy;
    byId('busy-text').textContent = state.busy?.message ?? '';
    (byId('busy-progress') as HTMLElement & { value?: number }).value = state.busy?.fraction;
    const err = byId('error');
    err.hidden = !state.error;
    err.textContent = state.error?.message ?? '';
    byId('rerun').hidden = !canRunAgain(state);
    const grid = byId('grid');
    while (tileViews.length < state.tiles.length) {
      const v = buildTile(tileViews.length);
      tileViews.push(v);
      grid.append(v.item);
    }
    while (tileViews.length > state.tiles.length) tileViews.pop()!.item.remove();
    state.tiles.forEach((t, i) => renderTile(tileViews[i], t));
    const en = state.enlarged !== undefined ? state.tiles[state.enlarged] : undefined;
    byId('enlarged').hidden = !en;
    grid.hidden = !!en;
    if (en) {
      byId('enlarged-title').textContent = tileCaption(en);
      big.setAttribute('aria-label', tileCaption(en));
      if (en.image) paint(big, en.image);
    }
    document.body.dataset.tiles = String(state.tiles.length);
    document.body.dataset.painted = String(state.tiles.filter((t) => t.image).length);
    document.body.dataset.done = String(state.done);
    document.body.dataset.busy = String(!!state.busy);
    // Observable by tests: how many live (intermediate) image messages arrived.
    document.body.dataset.live = String(liveMessages);
  }

  window.addEventListener('message', (event: MessageEvent<ToFeatureWebviewMessage>) => {
    const msg = event.data;
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    if (msg.type === 'featureImages') liveMessages++;
    const before = state;
    state = featureReducer(state, msg);
    if (worthSaving(before, state, msg)) api.setState(saveFeature(state));
    render();
  });
  render();
  api.postMessage({ type: 'ready' });
}
