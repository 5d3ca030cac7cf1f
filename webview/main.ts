/** The Saliency panel webview: builds the UI, renders maps locally, talks to the extension host. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { FromWebviewMessage, MethodName, ReduceMode, ToWebviewMessage, ColormapName } from '../src/shared/protocol';
import { COLORMAPS } from '../src/shared/protocol';
import { byId, h, select, setChildren, setSelectValue } from './dom';
import { canvasPng, SlotPainter, type SlotCanvases } from './paint';
import {
  checkpointText, formatProbability, fromHost, fromUser, initialState, methodLabel, persistable, searchLabels,
  type PanelState, type RenderNeed, type Update, type UserAction,
} from './state';

interface VsCodeApi {
  postMessage(message: FromWebviewMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
let state: PanelState = initialState(vscode.getState());

interface SlotView {
  root: HTMLElement;
  modelPath: string;
  canvases: SlotCanvases;
  painter: SlotPainter;
  reported: number;
}
const slotViews: SlotView[] = [];

const REDUCE_OPTIONS: { value: ReduceMode; label: string }[] = [
  { value: 'max-abs', label: 'max |·| over channels' },
  { value: 'max', label: 'max over channels' },
  { value: 'l2', label: 'L2 norm over channels' },
];

function dispatch(update: Update): void {
  state = update.state;
  for (const m of update.post) vscode.postMessage(m);
  vscode.setState(persistable(state));
  render(update.render);
}

function user(action: UserAction): void {
  dispatch(fromUser(state, action));
}

function buildSkeleton(): void {
  const app = byId('app');
  const alpha = h('input', { id: 'alpha', type: 'range', min: '0', max: '1', step: '0.05', value: String(state.display.alpha), 'aria-label': 'Overlay opacity' });
  const clip = h('input', { id: 'clip', type: 'range', min: '90', max: '100', step: '0.1', value: String(state.display.clipPercentile), 'aria-label': 'Clip percentile' });
  const search = h('vscode-textfield', { id: 'label-search', placeholder: 'Search all labels…', 'aria-label': 'Search all labels for a target class' });
  setChildren(app,
    h('header', { class: 'head' },
      h('h1', { id: 'title' }, state.imageName || 'Saliency'),
      h('div', { class: 'models' },
        h('span', { id: 'model-names' }),
        h('vscode-button', { id: 'change-model', secondary: true, title: 'Choose the workspace model' }, 'Change model…'),
        h('vscode-button', { id: 'compare', secondary: true, title: 'Show a second model side by side' }, 'Compare…'),
        h('vscode-button', { id: 'stop-compare', secondary: true, hidden: true }, 'Stop comparing'))),
    h('section', { class: 'controls', 'aria-label': 'Controls' },
      h('div', { class: 'control' }, h('vscode-label', { for: 'method' }, 'Method'),
        select('method', state.methods.map((m) => ({ value: m, label: methodLabel(m) })), state.method, 'Attribution method')),
      h('div', { class: 'control' }, h('vscode-label', { for: 'colormap' }, 'Colour map'),
        select('colormap', COLORMAPS.map((c) => ({ value: c, label: c })), state.display.colormap, 'Colour map')),
      h('div', { class: 'control' }, h('vscode-label', { for: 'reduce' }, 'Channels'),
        select('reduce', REDUCE_OPTIONS, state.display.reduce, 'Channel reduction')),
      h('div', { class: 'control' }, h('vscode-label', { for: 'alpha' }, 'Opacity'), h('div', { class: 'range' }, alpha, h('output', { id: 'alpha-value', for: 'alpha' }))),
      h('div', { class: 'control' }, h('vscode-label', { for: 'clip' }, 'Clip percentile'), h('div', { class: 'range' }, clip, h('output', { id: 'clip-value', for: 'clip' })))),
    h('section', { class: 'target', 'aria-label': 'Target class' },
      h('span', { id: 'target-text' }),
      h('vscode-button', { id: 'top1', secondary: true, title: 'Explain each model’s top-1 prediction' }, 'Use top-1'),
      search,
      h('ul', { id: 'label-results', class: 'label-results', 'aria-label': 'Matching labels' })),
    h('div', { id: 'busy', class: 'busy', role: 'status', hidden: true }, h('vscode-progress-ring'), h('span', { id: 'busy-text' })),
    h('div', { id: 'slots', class: 'slots' }));

  byId('method').addEventListener('change', (e) => user({ type: 'method', method: (e.target as HTMLInputElement).value as MethodName }));
  byId('colormap').addEventListener('change', (e) => user({ type: 'display', patch: { colormap: (e.target as HTMLInputElement).value as ColormapName } }));
  byId('reduce').addEventListener('change', (e) => user({ type: 'display', patch: { reduce: (e.target as HTMLInputElement).value as ReduceMode } }));
  alpha.addEventListener('input', () => user({ type: 'display', patch: { alpha: Number((alpha as HTMLInputElement).value) } }));
  clip.addEventListener('change', () => user({ type: 'display', patch: { clipPercentile: Number((clip as HTMLInputElement).value) } }));
  clip.addEventListener('input', () => { byId('clip-value').textContent = `${(clip as HTMLInputElement).value}%`; });
  search.addEventListener('input', () => user({ type: 'labelQuery', text: (search as unknown as { value: string }).value }));
  byId('top1').addEventListener('click', () => user({ type: 'target', target: undefined }));
  byId('change-model').addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'selectModel' }));
  byId('compare').addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'compareModels' }));
  byId('stop-compare').addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'stopCompare' }));
}

function buildSlot(index: number, modelPath: string): SlotView {
  const canvas = (view: string, label: string): HTMLCanvasElement => h('canvas', { 'data-view': view, role: 'img', 'aria-label': label, width: '1', height: '1' });
  const canvases = { input: canvas('input', 'Model input'), map: canvas('map', 'Saliency map'), overlay: canvas('overlay', 'Saliency overlaid on the input') };
  const exportPng = h('vscode-button', { secondary: true, class: 'export-png', title: 'Save the overlay as a PNG file' }, 'Save overlay PNG…');
  const exportNpy = h('vscode-button', { secondary: true, class: 'export-npy', title: 'Save the raw [H, W, C] float32 attribution' }, 'Save map .npy…');
  const root = h('article', { class: 'slot', 'data-slot': String(index) },
    h('h2', { class: 'slot-title' }),
    h('p', { class: 'checkpoint' }),
    h('p', { class: 'note' }),
    h('div', { class: 'error', role: 'alert', hidden: true }),
    h('div', { class: 'views' },
      h('figure', {}, canvases.input, h('figcaption', {}, 'Input')),
      h('figure', {}, canvases.map, h('figcaption', {}, 'Saliency map')),
      h('figure', {}, canvases.overlay, h('figcaption', {}, 'Overlay'))),
    h('div', { class: 'actions' }, exportPng, exportNpy),
    h('h3', {}, 'Top-5 predictions'),
    h('ol', { class: 'predictions' }),
    h('p', { class: 'meta' }));
  exportPng.addEventListener('click', () => {
    canvasPng(canvases.overlay).then(
      (png) => vscode.postMessage({ type: 'export', what: 'overlay', pngData: png, slot: index }),
      () => undefined,
    );
  });
  exportNpy.addEventListener('click', () => vscode.postMessage({ type: 'export', what: 'npy', slot: index }));
  return { root, modelPath, canvases, painter: new SlotPainter(), reported: 0 };
}

/** A probability bar; its width is set through the CSSOM, which the CSP allows (style attributes it does not). */
function bar(probability: number): HTMLElement {
  const fill = h('span', { class: 'pred-fill' });
  fill.style.width = `${Math.max(0, Math.min(1, probability)) * 100}%`;
  return h('span', { class: 'pred-bar', 'aria-hidden': 'true' }, fill);
}

function targetText(): string {
  const first = state.slots[0]?.result;
  if (!first) return state.target === undefined ? 'Target: top-1' : `Target: ${String(state.target)}`;
  // The result says what was explained (the host may have applied the target setting).
  const { index, label } = first.target;
  const top1 = first.predictions[0]?.index === index;
  return state.target === undefined && top1 ? `Target: top-1 (${label})` : `Target: ${label} (#${index})`;
}

function renderSlot(view: SlotView, index: number, need: RenderNeed): void {
  const slot = state.slots[index];
  const q = <T extends Element>(sel: string): T => view.root.querySelector(sel) as T;
  q<HTMLElement>('.slot-title').textContent = slot.modelName;
  q<HTMLElement>('.slot-title').title = slot.modelPath;
  const r = slot.result;
  q<HTMLElement>('.checkpoint').textContent = r ? checkpointText(r.model.mtimeMs, Date.now()) + (slot.reason === 'new checkpoint on disk' ? ' · refreshed' : '') : '';
  q<HTMLElement>('.note').textContent = slot.note ?? '';
  const err = q<HTMLElement>('.error');
  err.hidden = !slot.error;
  err.textContent = slot.error ?? '';
  view.root.classList.toggle('failed', !!slot.error);
  view.root.classList.toggle('empty', !r);
  const preds = q<HTMLOListElement>('.predictions');
  if (r) {
    setChildren(preds, ...r.predictions.slice(0, 5).map((p) => {
      const isTarget = p.index === r.target.index;
      const button = h('button', { class: 'pred', type: 'button', 'aria-pressed': isTarget ? 'true' : 'false', title: `Explain class ${p.index} (${p.label})` },
        h('span', { class: 'pred-label' }, p.label),
        bar(p.probability),
        h('span', { class: 'pred-prob' }, formatProbability(p.probability)));
      // In a comparison the second model's classes differ: target by label there.
      button.addEventListener('click', () => user({ type: 'target', target: index === 0 ? p.index : p.label }));
      return h('li', {}, button);
    }));
    const t = r.timingMs;
    q<HTMLElement>('.meta').textContent = `${methodLabel(r.method)} · target ${r.target.label} (#${r.target.index}) · ${r.backend} · ${(t.load + t.inference + t.attribution).toFixed(0)} ms · ${r.model.format}, ${r.model.preprocess} preprocessing`;
    view.painter.paint(r, state.display, view.canvases, need);
    if (slot.requestId > view.reported) {
      view.reported = slot.requestId;
      vscode.postMessage({ type: 'rendered', requestId: slot.requestId, slot: index });
    }
  } else {
    setChildren(preds);
    q<HTMLElement>('.meta').textContent = '';
  }
}

function render(need: RenderNeed): void {
  if (need === 'none') return;
  byId('title').textContent = state.imageName || 'Saliency';
  byId('title').title = state.imagePath;
  byId('model-names').textContent = state.slots.length > 1
    ? `Comparing ${state.slots.map((s) => s.modelName).join(' and ')}`
    : `Model: ${state.slots[0]?.modelName ?? '—'}`;
  byId('stop-compare').hidden = state.slots.length < 2;
  setSelectValue(byId('method'), state.method);
  setSelectValue(byId('colormap'), state.display.colormap);
  setSelectValue(byId('reduce'), state.display.reduce);
  (byId('alpha') as HTMLInputElement).value = String(state.display.alpha);
  byId('alpha-value').textContent = `${Math.round(state.display.alpha * 100)}%`;
  (byId('clip') as HTMLInputElement).value = String(state.display.clipPercentile);
  byId('clip-value').textContent = `${state.display.clipPercentile}%`;
  byId('target-text').textContent = targetText();
  renderLabelResults();
  const busy = byId('busy');
  busy.hidden = !state.busy;
  byId('busy-text').textContent = state.busy?.message ?? '';
  document.body.classList.toggle('is-busy', !!state.busy);

  const container = byId('slots');
  container.classList.toggle('compare', state.slots.length > 1);
  state.slots.forEach((slot, i) => {
    if (slotViews[i] && slotViews[i].modelPath !== slot.modelPath) {
      slotViews[i].root.remove();
      slotViews.splice(i, 1, buildSlot(i, slot.modelPath));
      container.insertBefore(slotViews[i].root, container.children[i] ?? null);
    } else if (!slotViews[i]) {
      slotViews[i] = buildSlot(i, slot.modelPath);
      container.append(slotViews[i].root);
    }
    renderSlot(slotViews[i], i, need);
  });
  while (slotViews.length > state.slots.length) slotViews.pop()!.root.remove();

  // Observable by tests and handy when debugging: how many results arrived and how often we painted.
  document.body.dataset.results = String(state.resultsReceived);
  document.body.dataset.paints = String(slotViews.reduce((n, v) => n + v.painter.paints, 0));
  document.body.dataset.colormap = state.display.colormap;
}

function renderLabelResults(): void {
  const list = byId('label-results');
  const q = state.labelQuery.trim();
  if (!q) {
    setChildren(list);
    return;
  }
  if (!state.labels) {
    setChildren(list, h('li', { class: 'hint' }, 'Loading labels…'));
    return;
  }
  const found = searchLabels(state.labels, q);
  if (found.length === 0) {
    setChildren(list, h('li', { class: 'hint' }, `No label matches “${q}”.`));
    return;
  }
  setChildren(list, ...found.map(({ index, label }) => {
    const b = h('button', { type: 'button', class: 'label-choice' }, h('span', {}, label), h('span', { class: 'index' }, `#${index}`));
    // Compare mode targets by label (the second model may order classes differently).
    b.addEventListener('click', () => user({ type: 'target', target: state.slots.length > 1 ? label : index }));
    return h('li', {}, b);
  }));
}

window.addEventListener('message', (event: MessageEvent<ToWebviewMessage>) => {
  const msg = event.data;
  if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
  dispatch(fromHost(state, msg));
});

buildSkeleton();
render('ui');
vscode.postMessage({ type: 'ready' });
