/** The Saliency panel webview: builds the UI, renders maps locally, talks to the extension host. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { ColormapName, FromWebviewMessage, MethodName, ReduceMode, ToWebviewMessage } from '../src/shared/protocol';
import { COLORMAPS } from '../src/shared/protocol';
import { METHOD_INFO } from '../src/extension/methodParams';
import { byId, h, select, setChildren, setSelectValue } from './dom';
import { startFeatures, type FeatureApi } from './filters';
import { buildParams, type ParamsView } from './params';
import { buildSlot, renderSlot, slotIdentity, type SlotHooks, type SlotView } from './slot';
import {
  comparingMethods, fromHost, fromUser, initialState, methodLabel, persistable, searchLabels, slotMethod,
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
const slotViews: SlotView[] = [];
let params: ParamsView | undefined;

/** How long parameter edits wait for the user to pause before recomputing. */
const DEBOUNCE_MS = 500;
let pending: ReturnType<typeof setTimeout> | undefined;

const REDUCE_OPTIONS: { value: ReduceMode; label: string }[] = [
  { value: 'max-abs', label: 'max |·| over channels' },
  { value: 'max', label: 'max over channels' },
  { value: 'l2', label: 'L2 norm over channels' },
];

function dispatch(update: Update): void {
  state = update.state;
  // Every recompute carries the current parameters, so it supersedes a pending debounced one.
  if (pending !== undefined && (update.debounced || update.post.some((m) => m.type === 'recompute'))) {
    clearTimeout(pending);
    pending = undefined;
  }
  for (const m of update.post) vscode.postMessage(m);
  const later = update.debounced;
  if (later) {
    pending = setTimeout(() => {
      pending = undefined;
      vscode.postMessage(later);
    }, DEBOUNCE_MS);
  }
  vscode.setState(persistable(state));
  render(update.render);
}

function user(action: UserAction): void {
  dispatch(fromUser(state, action));
}

const hooks: SlotHooks = { post: (m) => vscode.postMessage(m), user };

function buildSkeleton(): void {
  const app = byId('app');
  const alpha = h('input', { id: 'alpha', type: 'range', min: '0', max: '1', step: '0.05', value: String(state.display.alpha), 'aria-label': 'Overlay opacity' });
  const clip = h('input', { id: 'clip', type: 'range', min: '90', max: '100', step: '0.1', value: String(state.display.clipPercentile), 'aria-label': 'Clip percentile' });
  const search = h('vscode-textfield', { id: 'label-search', placeholder: 'Search all labels…', 'aria-label': 'Search all labels for a target class' });
  const metrics = h('vscode-checkbox', { id: 'metrics', label: 'Faithfulness', title: 'Deletion and insertion curves and the randomisation check (extra passes)' }) as HTMLElement & { checked: boolean };
  params = buildParams((patch) => user({ type: 'options', patch }));
  setChildren(app,
    h('header', { class: 'head' },
      h('h1', { id: 'title' }, state.imageName || 'Saliency'),
      h('div', { class: 'models' },
        h('span', { id: 'model-names' }),
        h('vscode-button', { id: 'change-model', secondary: true, title: 'Choose the workspace model' }, 'Change model…'),
        h('vscode-button', { id: 'compare', secondary: true, title: 'Show a second model side by side' }, 'Compare…'),
        h('vscode-button', { id: 'compare-method', secondary: true, title: 'Show a second method side by side (same model and target)' }, 'Compare method…'),
        h('vscode-button', { id: 'stop-compare', secondary: true, hidden: true }, 'Stop comparing'))),
    h('section', { class: 'controls', 'aria-label': 'Controls' },
      h('div', { class: 'control' }, h('vscode-label', { for: 'method' }, 'Method'),
        select('method', state.methods.map((m) => ({ value: m, label: methodLabel(m), description: METHOD_INFO[m].description })), state.method, 'Attribution method')),
      h('div', { class: 'control' }, h('vscode-label', { for: 'colormap' }, 'Colour map'),
        select('colormap', COLORMAPS.map((c) => ({ value: c, label: c })), state.display.colormap, 'Colour map')),
      h('div', { class: 'control' }, h('vscode-label', { for: 'reduce' }, 'Channels'),
        select('reduce', REDUCE_OPTIONS, state.display.reduce, 'Channel reduction')),
      h('div', { class: 'control' }, h('vscode-label', { for: 'alpha' }, 'Opacity'), h('div', { class: 'range' }, alpha, h('output', { id: 'alpha-value', for: 'alpha' }))),
      h('div', { class: 'control' }, h('vscode-label', { for: 'clip' }, 'Clip percentile'), h('div', { class: 'range' }, clip, h('output', { id: 'clip-value', for: 'clip' }))),
      h('div', { class: 'control toggle' }, metrics)),
    h('p', { id: 'method-description', class: 'method-description' }),
    params.root,
    h('section', { class: 'target', 'aria-label': 'Target class' },
      h('span', { id: 'target-text' }),
      h('vscode-button', { id: 'top1', secondary: true, title: 'Explain each model’s top-1 prediction' }, 'Use top-1'),
      search,
      h('ul', { id: 'label-results', class: 'label-results', 'aria-label': 'Matching labels' })),
    h('div', { id: 'busy', class: 'busy', role: 'status', hidden: true },
      h('vscode-progress-ring'),
      h('div', { class: 'busy-body' },
        h('span', { id: 'busy-text' }),
        h('vscode-progress-bar', { id: 'busy-progress', max: '1', 'aria-label': 'Progress' })),
      h('vscode-button', { id: 'cancel', secondary: true, title: 'Stop this computation (the map shown stays)' }, 'Cancel')),
    h('div', { id: 'slots', class: 'slots' }));

  byId('method').addEventListener('change', (e) => user({ type: 'method', method: (e.target as HTMLInputElement).value as MethodName }));
  byId('colormap').addEventListener('change', (e) => user({ type: 'display', patch: { colormap: (e.target as HTMLInputElement).value as ColormapName } }));
  byId('reduce').addEventListener('change', (e) => user({ type: 'display', patch: { reduce: (e.target as HTMLInputElement).value as ReduceMode } }));
  alpha.addEventListener('input', () => user({ type: 'display', patch: { alpha: Number((alpha as HTMLInputElement).value) } }));
  clip.addEventListener('change', () => user({ type: 'display', patch: { clipPercentile: Number((clip as HTMLInputElement).value) } }));
  clip.addEventListener('input', () => { byId('clip-value').textContent = `${(clip as HTMLInputElement).value}%`; });
  metrics.addEventListener('change', () => user({ type: 'options', patch: { metrics: metrics.checked } }));
  search.addEventListener('input', () => user({ type: 'labelQuery', text: (search as unknown as { value: string }).value }));
  byId('top1').addEventListener('click', () => user({ type: 'target', target: undefined }));
  byId('cancel').addEventListener('click', () => user({ type: 'cancel' }));
  byId('change-model').addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'selectModel' }));
  byId('compare').addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'compareModels' }));
  byId('compare-method').addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'compareMethod' }));
  byId('stop-compare').addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'stopCompare' }));
}

function targetText(): string {
  const first = state.slots[0]?.result;
  if (!first) return state.target === undefined ? 'Target: top-1' : `Target: ${String(state.target)}`;
  // The result says what was explained (the host may have applied the target setting).
  const { index, label } = first.target;
  const top1 = first.predictions[0]?.index === index;
  return state.target === undefined && top1 ? `Target: top-1 (${label})` : `Target: ${label} (#${index})`;
}

function headerText(): string {
  if (comparingMethods(state)) {
    return `Model: ${state.slots[0].modelName} · comparing ${methodLabel(slotMethod(state, 0))} and ${methodLabel(slotMethod(state, 1))}`;
  }
  return state.slots.length > 1 ? `Comparing ${state.slots.map((s) => s.modelName).join(' and ')}` : `Model: ${state.slots[0]?.modelName ?? '—'}`;
}

function render(need: RenderNeed): void {
  if (need === 'none') return;
  byId('title').textContent = state.imageName || 'Saliency';
  byId('title').title = state.imagePath;
  byId('model-names').textContent = headerText();
  byId('stop-compare').hidden = state.slots.length < 2;
  setSelectValue(byId('method'), state.method);
  byId('method-description').textContent = METHOD_INFO[state.method]?.description ?? '';
  setSelectValue(byId('colormap'), state.display.colormap);
  setSelectValue(byId('reduce'), state.display.reduce);
  (byId('alpha') as HTMLInputElement).value = String(state.display.alpha);
  byId('alpha-value').textContent = `${Math.round(state.display.alpha * 100)}%`;
  (byId('clip') as HTMLInputElement).value = String(state.display.clipPercentile);
  byId('clip-value').textContent = `${state.display.clipPercentile}%`;
  const metrics = byId('metrics') as HTMLElement & { checked: boolean };
  if (metrics.checked !== !!state.options.metrics) metrics.checked = !!state.options.metrics;
  params?.render(state);
  byId('target-text').textContent = targetText();
  renderLabelResults();
  const busy = byId('busy');
  busy.hidden = !state.busy;
  byId('busy-text').textContent = state.busy?.message ?? '';
  const bar = byId('busy-progress') as HTMLElement & { value?: number };
  // Without a fraction yet the bar is indeterminate.
  bar.value = state.busy?.fraction;
  document.body.classList.toggle('is-busy', !!state.busy);

  const container = byId('slots');
  container.classList.toggle('compare', state.slots.length > 1);
  state.slots.forEach((_, i) => {
    const identity = slotIdentity(state, i);
    if (slotViews[i] && slotViews[i].identity !== identity) {
      slotViews[i].root.remove();
      slotViews.splice(i, 1, buildSlot(i, identity, hooks));
      container.insertBefore(slotViews[i].root, container.children[i] ?? null);
    } else if (!slotViews[i]) {
      slotViews[i] = buildSlot(i, identity, hooks);
      container.append(slotViews[i].root);
    }
    renderSlot(state, slotViews[i], i, need, hooks);
  });
  while (slotViews.length > state.slots.length) slotViews.pop()!.root.remove();

  // Observable by tests and handy when debugging: how many results arrived and how often we painted.
  document.body.dataset.results = String(state.resultsReceived);
  document.body.dataset.paints = String(slotViews.reduce((n, v) => n + v.painter.paints, 0));
  document.body.dataset.colormap = state.display.colormap;
  document.body.dataset.method = state.method;
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
    // A model comparison targets by label (the second model may order classes differently).
    b.addEventListener('click', () => user({ type: 'target', target: state.slots.length > 1 && !comparingMethods(state) ? label : index }));
    return h('li', {}, b);
  }));
}

// The same bundle serves the filter grid / dream panels (their HTML says which view it is).
if (document.body.dataset.view === 'features') {
  startFeatures(vscode as unknown as FeatureApi);
} else {
  window.addEventListener('message', (event: MessageEvent<ToWebviewMessage>) => {
    const msg = event.data;
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    dispatch(fromHost(state, msg));
  });
  buildSkeleton();
  render('ui');
  vscode.postMessage({ type: 'ready' });
}
