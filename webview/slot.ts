/** One column of the panel: its title, the three views, exports, top-5 predictions and faithfulness. */
import type { FromWebviewMessage } from '../src/shared/protocol';
import { h, setChildren } from './dom';
import { renderMetrics } from './metrics';
import { canvasPng, SlotPainter, type SlotCanvases } from './paint';
import {
  checkpointText, comparingMethods, formatProbability, methodLabel, slotMethod,
  type PanelState, type RenderNeed, type UserAction,
} from './state';

/** A column's elements and painter. */
export interface SlotView {
  root: HTMLElement;
  /** What the column shows (model and own method): a different one gets a fresh view. */
  identity: string;
  canvases: SlotCanvases;
  painter: SlotPainter;
  reported: number;
  /** What the metrics section shows (rebuilt only when it changes). */
  metricsShown?: readonly unknown[];
}

/** What a column does outside itself. */
export interface SlotHooks {
  post(message: FromWebviewMessage): void;
  user(action: UserAction): void;
}

/** The identity of a column in a state. */
export function slotIdentity(state: PanelState, index: number): string {
  const s = state.slots[index];
  return `${s.modelPath}\n${s.method ?? ''}`;
}

/** Builds a column's elements. */
export function buildSlot(index: number, identity: string, hooks: SlotHooks): SlotView {
  const canvas = (view: string, label: string): HTMLCanvasElement => h('canvas', { 'data-view': view, role: 'img', 'aria-label': label, width: '1', height: '1' });
  const canvases = { input: canvas('input', 'Model input'), map: canvas('map', 'Saliency map'), overlay: canvas('overlay', 'Saliency overlaid on the input') };
  const exportPng = h('vscode-button', { secondary: true, class: 'export-png', title: 'Save the overlay as a PNG file' }, 'Save overlay PNG…');
  const exportNpy = h('vscode-button', { secondary: true, class: 'export-npy', title: 'Save the raw attribution (a CAM at its layer’s resolution)' }, 'Save map .npy…');
  const root = h('article', { class: 'slot', 'data-slot': String(index) },
    h('h2', { class: 'slot-title' }),
    h('p', { class: 'slot-method' }, h('span', { class: 'method-name' }), h('span', { class: 'layer-used', title: 'The layer the class activation map was computed at' })),
    h('p', { class: 'checkpoint' }),
    h('p', { class: 'note' }),
    h('div', { class: 'error', role: 'alert', hidden: true }),
    h('div', { class: 'views' },
      h('figure', {}, canvases.input, h('figcaption', {}, 'Input')),
      h('figure', {}, canvases.map, h('figcaption', {}, 'Saliency map')),
      h('figure', {}, canvases.overlay, h('figcaption', {}, 'Overlay'))),
    h('div', { class: 'actions' }, exportPng, exportNpy),
    h('section', { class: 'metrics', 'aria-label': 'Faithfulness', hidden: true }),
    h('h3', { class: 'predictions-title' }, 'Top-5 predictions'),
    h('ol', { class: 'predictions' }),
    h('p', { class: 'meta' }));
  exportPng.addEventListener('click', () => {
    canvasPng(canvases.overlay).then(
      (png) => hooks.post({ type: 'export', what: 'overlay', pngData: png, slot: index }),
      () => undefined,
    );
  });
  exportNpy.addEventListener('click', () => hooks.post({ type: 'export', what: 'npy', slot: index }));
  return { root, identity, canvases, painter: new SlotPainter(), reported: 0 };
}

/** A probability bar; its width is set through the CSSOM, which the CSP allows (style attributes it does not). */
function bar(probability: number): HTMLElement {
  const fill = h('span', { class: 'pred-fill' });
  fill.style.width = `${Math.max(0, Math.min(1, probability)) * 100}%`;
  return h('span', { class: 'pred-bar', 'aria-hidden': 'true' }, fill);
}

/** Brings a column up to date with the state. */
export function renderSlot(state: PanelState, view: SlotView, index: number, need: RenderNeed, hooks: SlotHooks): void {
  const slot = state.slots[index];
  const q = <T extends Element>(sel: string): T => view.root.querySelector(sel) as T;
  const r = slot.result;
  const methods = comparingMethods(state);
  q<HTMLElement>('.slot-title').textContent = methods ? `${methodLabel(slotMethod(state, index))} · ${slot.modelName}` : slot.modelName;
  q<HTMLElement>('.slot-title').title = slot.modelPath;
  // What the picture shows: its method and, for CAM methods, the layer the engine used.
  // (A method comparison names the method in the column's title already.)
  q<HTMLElement>('.method-name').textContent = r && !methods ? methodLabel(r.method) : '';
  const layer = q<HTMLElement>('.layer-used');
  const camSize = r?.layer && r.attribution.channels === 1 ? ` (${r.attribution.height}×${r.attribution.width})` : '';
  layer.textContent = r?.layer ? `layer ${r.layer}${camSize}` : '';
  layer.dataset.layer = r?.layer ?? '';
  q<HTMLElement>('.checkpoint').textContent = r ? checkpointText(r.model.mtimeMs, Date.now()) + (slot.reason === 'new checkpoint on disk' ? ' · refreshed' : '') : '';
  q<HTMLElement>('.note').textContent = slot.note ?? '';
  const err = q<HTMLElement>('.error');
  err.hidden = !slot.error;
  err.textContent = slot.error ?? '';
  view.root.classList.toggle('failed', !!slot.error);
  view.root.classList.toggle('empty', !r);
  // The second column of a method comparison has the same model, so the same predictions.
  view.root.classList.toggle('same-model', methods && index > 0);
  const shown = [r?.metrics, !!state.options.metrics, !!state.busy];
  if (!view.metricsShown || shown.some((v, i) => v !== view.metricsShown![i])) {
    view.metricsShown = shown;
    renderMetrics(q<HTMLElement>('.metrics'), r?.metrics, !!state.options.metrics, !!state.busy);
  }
  const preds = q<HTMLOListElement>('.predictions');
  if (r) {
    setChildren(preds, ...r.predictions.slice(0, 5).map((p) => {
      const isTarget = p.index === r.target.index;
      const button = h('button', { class: 'pred', type: 'button', 'aria-pressed': isTarget ? 'true' : 'false', title: `Explain class ${p.index} (${p.label})` },
        h('span', { class: 'pred-label' }, p.label),
        bar(p.probability),
        h('span', { class: 'pred-prob' }, formatProbability(p.probability)));
      // In a model comparison the second model's classes differ: target by label there.
      button.addEventListener('click', () => hooks.user({ type: 'target', target: index === 0 ? p.index : p.label }));
      return h('li', {}, button);
    }));
    const t = r.timingMs;
    q<HTMLElement>('.meta').textContent = `${methodLabel(r.method)} · target ${r.target.label} (#${r.target.index}) · ${r.backend} · ${(t.load + t.inference + t.attribution).toFixed(0)} ms · ${r.model.format}, ${r.model.preprocess} preprocessing`;
    view.painter.paint(r, state.display, view.canvases, need);
    if (slot.requestId > view.reported) {
      view.reported = slot.requestId;
      hooks.post({ type: 'rendered', requestId: slot.requestId, slot: index, renderMs: view.painter.lastMs });
    }
  } else {
    setChildren(preds);
    q<HTMLElement>('.meta').textContent = '';
  }
}
