/**
 * The panel's state and every transition, as pure functions (tested outside VS Code). Each update says
 * what to post to the extension and how much to repaint: re-colouring (colour map, alpha) reuses the
 * normalised maps, re-mapping (reduction, clip) redoes them, and neither asks the engine for anything.
 */
import type {
  ColormapName, DisplaySettings, ExplainResult, FromWebviewMessage, LayerInfo, MethodName, MethodOptions, ReduceMode, ToWebviewMessage,
} from '../src/shared/protocol';
import { COLORMAPS, METHODS } from '../src/shared/protocol';
import { methodLabel, parseMethod, relevantParams, sanitizeOptions, usesLayer, type ParamName } from '../src/extension/methodParams';

/** The display name of a method (re-exported for the panel's modules). */
export { methodLabel };

/** One model's column. */
export interface SlotState {
  modelName: string;
  modelPath: string;
  /** The column's own method (the second column of a method comparison); else the panel's method. */
  method?: MethodName;
  result?: ExplainResult;
  /** The request the result or error belongs to: older answers are ignored. */
  requestId: number;
  note?: string;
  reason?: string;
  error?: string;
}

/** Everything the panel shows. */
export interface PanelState {
  imagePath: string;
  imageName: string;
  methods: readonly MethodName[];
  method: MethodName;
  /** The target the user chose; undefined means each model's top-1. */
  target?: number | string;
  display: DisplaySettings;
  /** Method parameters (undefined fields: the engine's defaults), including `metrics`. */
  options: MethodOptions;
  slots: SlotState[];
  busy?: { requestId: number; message: string; fraction?: number };
  /** The first model's layers, once asked for (CAM layer picker). */
  layers?: { modelPath: string; list: LayerInfo[] };
  layersRequested: boolean;
  /** All labels of the first model, once asked for. */
  labels?: string[];
  labelsRequested: boolean;
  labelQuery: string;
  /** Results received since the webview loaded (shown to tests as a data attribute). */
  resultsReceived: number;
}

/** How much of the picture must be redrawn after an update. */
export type RenderNeed = 'none' | 'ui' | 'recolor' | 'remap';

/** The outcome of a transition. */
export interface Update {
  state: PanelState;
  post: FromWebviewMessage[];
  render: RenderNeed;
  /** A recompute to post once the user stops changing parameters (replaces any pending one). */
  debounced?: FromWebviewMessage;
}

/** User actions in the panel. */
export type UserAction =
  | { type: 'display'; patch: Partial<DisplaySettings> }
  | { type: 'method'; method: MethodName }
  | { type: 'target'; target: number | string | undefined }
  /** Parameter changes; an undefined value means "automatic" (the engine's default). */
  | { type: 'options'; patch: Partial<MethodOptions> }
  | { type: 'cancel' }
  | { type: 'labelQuery'; text: string };

const REDUCE: readonly ReduceMode[] = ['max-abs', 'max', 'l2'];

/** The display used before the extension sends the user's settings. */
export const DEFAULT_DISPLAY: DisplaySettings = { colormap: 'viridis', alpha: 0.5, clipPercentile: 99, reduce: 'max-abs' };
/** A fresh state (or one restored from what `persistable` saved, validated field by field). */
export function initialState(saved?: unknown): PanelState {
  const s = (saved && typeof saved === 'object' ? saved : {}) as Record<string, unknown>;
  const models = Array.isArray(s.models) ? s.models.filter((m): m is string => typeof m === 'string') : [];
  const compareMethod = models.length === 1 ? parseMethod(s.compareMethod) : undefined;
  const slots: SlotState[] = models.map((modelPath) => ({ modelPath, modelName: baseName(modelPath), requestId: 0 }));
  if (compareMethod) slots.push({ ...slots[0], method: compareMethod });
  return {
    imagePath: typeof s.imagePath === 'string' ? s.imagePath : '',
    imageName: typeof s.imageName === 'string' ? s.imageName : '',
    methods: METHODS,
    method: parseMethod(s.method) ?? METHODS[0],
    target: typeof s.target === 'number' || typeof s.target === 'string' ? s.target : undefined,
    display: sanitizeDisplay(s.display),
    options: sanitizeOptions(s.options),
    slots,
    labelsRequested: false,
    layersRequested: false,
    labelQuery: typeof s.labelQuery === 'string' ? s.labelQuery : '',
    resultsReceived: 0,
  };
}

/** The JSON-safe part of the state kept by `vscode.setState` (no pixel data: the host re-sends it). */
export function persistable(state: PanelState): Record<string, unknown> {
  const compareMethod = state.slots[1]?.method;
  return {
    imagePath: state.imagePath,
    imageName: state.imageName,
    // A method comparison has one model, shown twice.
    models: (compareMethod ? state.slots.slice(0, 1) : state.slots).map((s) => s.modelPath),
    method: state.method,
    compareMethod,
    target: state.target,
    display: state.display,
    options: state.options,
    labelQuery: state.labelQuery,
  };
}

/** The method of a column: its own in a method comparison, else the panel's. */
export function slotMethod(state: PanelState, slot: number): MethodName {
  return state.slots[slot]?.method ?? state.method;
}

/** True when the two columns show two methods on one model. */
export function comparingMethods(state: PanelState): boolean {
  return state.slots[1]?.method !== undefined;
}

/** The parameters shown in the panel: those of the methods on screen. */
export function visibleParams(state: PanelState): Set<ParamName> {
  const methods = state.slots.length ? state.slots.map((_, i) => slotMethod(state, i)) : [state.method];
  return relevantParams(methods, state.options);
}

/** Layers a CAM method can use (spatial outputs), in model order. */
export function camLayers(state: PanelState): LayerInfo[] {
  return state.layers && state.layers.modelPath === state.slots[0]?.modelPath ? state.layers.list.filter((l) => l.spatial) : [];
}

/** Applies a message from the extension host. */
export function fromHost(state: PanelState, msg: ToWebviewMessage): Update {
  return askForLayers(hostUpdate(state, msg));
}

function hostUpdate(state: PanelState, msg: ToWebviewMessage): Update {
  switch (msg.type) {
    case 'context': {
      const slots = msg.slots.map((s, i): SlotState => {
        const old = state.slots[i];
        // Keep what a slot showed only if it still shows the same model with the same method.
        return old && old.modelPath === s.modelPath && old.method === s.method ? { ...old, modelName: s.modelName } : { ...s, requestId: 0 };
      });
      const sameModel = state.slots[0]?.modelPath === slots[0]?.modelPath;
      const labels = sameModel ? state.labels : undefined;
      // Layer names belong to a model (the host forgets the layer as well).
      const options = sameModel || state.options.layer === undefined ? state.options : { ...state.options, layer: undefined };
      const layers = sameModel ? state.layers : undefined;
      return {
        state: {
          ...state, imagePath: msg.imagePath, imageName: msg.imageName, methods: msg.methods, slots, labels, labelsRequested: labels !== undefined,
          options, layers, layersRequested: sameModel && state.layersRequested,
        },
        post: [],
        render: 'remap',
      };
    }
    case 'settings':
      return {
        state: { ...state, display: sanitizeDisplay(msg.display), method: msg.method, options: msg.options ? sanitizeOptions(msg.options) : state.options },
        post: [],
        render: 'remap',
      };
    case 'busy':
      // An empty message marks the end of that request.
      if (!msg.message) {
        return { state: { ...state, busy: state.busy && state.busy.requestId > msg.requestId ? state.busy : undefined }, post: [], render: 'ui' };
      }
      return { state: { ...state, busy: { requestId: msg.requestId, message: msg.message, fraction: msg.fraction } }, post: [], render: 'ui' };
    case 'result': {
      const slot = state.slots[msg.slot];
      if (!slot || msg.requestId < slot.requestId) return { state, post: [], render: 'none' };
      const slots = state.slots.slice();
      slots[msg.slot] = { ...slot, result: msg.result, requestId: msg.requestId, note: msg.note, reason: msg.reason, error: undefined };
      return { state: { ...state, slots, method: msg.slot === 0 ? msg.result.method : state.method, resultsReceived: state.resultsReceived + 1 }, post: [], render: 'remap' };
    }
    case 'error': {
      const targets = msg.slot === undefined ? state.slots.map((_, i) => i) : [msg.slot];
      // A failure replaces the picture (it would describe other settings); a cancel keeps it.
      const slots = state.slots.map((s, i) => (targets.includes(i) && msg.requestId >= s.requestId
        ? { ...s, error: msg.message, requestId: msg.requestId, result: msg.cancelled ? s.result : undefined }
        : s));
      // After a cancel the method shown is the one of the picture still on screen.
      const method = msg.cancelled && slots[0]?.result ? slots[0].result.method : state.method;
      return { state: { ...state, slots, method }, post: [], render: 'ui' };
    }
    case 'labels':
      return { state: { ...state, labels: msg.labels, labelsRequested: true }, post: [], render: 'ui' };
    case 'layers':
      if (msg.modelPath !== state.slots[0]?.modelPath) return { state, post: [], render: 'none' };
      return { state: { ...state, layers: { modelPath: msg.modelPath, list: msg.layers }, layersRequested: true }, post: [], render: 'ui' };
  }
}

/** Applies a user action. */
export function fromUser(state: PanelState, action: UserAction): Update {
  return askForLayers(userUpdate(state, action));
}

function userUpdate(state: PanelState, action: UserAction): Update {
  switch (action.type) {
    case 'display': {
      const display = sanitizeDisplay({ ...state.display, ...action.patch });
      const remap = display.reduce !== state.display.reduce || display.clipPercentile !== state.display.clipPercentile;
      const changed = remap || display.colormap !== state.display.colormap || display.alpha !== state.display.alpha;
      if (!changed) return { state, post: [], render: 'none' };
      return { state: { ...state, display }, post: [{ type: 'displayChanged', display }], render: remap ? 'remap' : 'recolor' };
    }
    case 'method':
      if (action.method === state.method && !hasErrors(state)) return { state, post: [], render: 'none' };
      return { state: { ...state, method: action.method }, post: [recompute(state, { method: action.method })], render: 'ui' };
    case 'target':
      // The protocol's empty-string target means "back to the top-1 prediction".
      return { state: { ...state, target: action.target }, post: [recompute(state, { target: action.target ?? '' })], render: 'ui' };
    case 'options': {
      const merged: Record<string, unknown> = { ...state.options };
      for (const [k, v] of Object.entries(action.patch)) {
        if (v === undefined) delete merged[k];
        else merged[k] = v;
      }
      const options = sanitizeOptions(merged);
      if (sameOptions(options, state.options)) return { state, post: [], render: 'none' };
      const next = { ...state, options };
      // Typing a number or stepping through values asks the engine once the user pauses.
      return { state: next, post: [], render: 'ui', debounced: recompute(next, {}) };
    }
    case 'cancel':
      return { state, post: state.busy ? [{ type: 'cancel' }] : [], render: 'none' };
    case 'labelQuery': {
      const ask = action.text.trim() !== '' && !state.labelsRequested;
      return {
        state: { ...state, labelQuery: action.text, labelsRequested: state.labelsRequested || ask },
        post: ask ? [{ type: 'requestLabels' }] : [],
        render: 'ui',
      };
    }
  }
}

/** A recompute request carrying the current parameters (so it supersedes a pending debounced one). */
function recompute(state: PanelState, extra: { method?: MethodName; target?: number | string }): FromWebviewMessage {
  return { type: 'recompute', ...extra, options: state.options };
}

/** Adds a request for the model's layers the first time a method with a layer parameter is on screen. */
function askForLayers(update: Update): Update {
  const s = update.state;
  if (s.layersRequested || !s.slots.length || !s.slots.some((_, i) => usesLayer(slotMethod(s, i)))) return update;
  return { ...update, state: { ...s, layersRequested: true }, post: [...update.post, { type: 'requestLayers' }], render: update.render === 'none' ? 'ui' : update.render };
}

function sameOptions(a: MethodOptions, b: MethodOptions): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof MethodOptions>;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

/** Labels matching a search: by substring (case-insensitive) or by class index; at most `limit`. */
export function searchLabels(labels: readonly string[], query: string, limit = 20): { index: number; label: string }[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const asIndex = /^\d+$/.test(q) ? Number(q) : -1;
  const exact: { index: number; label: string }[] = [];
  const prefix: { index: number; label: string }[] = [];
  const inner: { index: number; label: string }[] = [];
  labels.forEach((label, index) => {
    const l = label.toLowerCase();
    if (index === asIndex || l === q) exact.push({ index, label });
    else if (l.startsWith(q)) prefix.push({ index, label });
    else if (l.includes(q)) inner.push({ index, label });
  });
  return [...exact, ...prefix, ...inner].slice(0, limit);
}

/** "checkpoint 14:03:22 (5 min ago)"-style text for a model file time. */
export function checkpointText(mtimeMs: number, now: number, locale?: string): string {
  if (!Number.isFinite(mtimeMs) || mtimeMs <= 0) return '';
  const when = new Date(mtimeMs);
  const sameDay = new Date(now).toDateString() === when.toDateString();
  const stamp = sameDay ? when.toLocaleTimeString(locale) : when.toLocaleString(locale);
  const secs = Math.max(0, Math.round((now - mtimeMs) / 1000));
  const ago = secs < 60 ? `${secs} s ago` : secs < 3600 ? `${Math.round(secs / 60)} min ago` : secs < 86400 ? `${Math.round(secs / 3600)} h ago` : `${Math.round(secs / 86400)} d ago`;
  return `checkpoint ${stamp} (${ago})`;
}

/** A probability as a percentage with sensible precision. */
export function formatProbability(p: number): string {
  if (!Number.isFinite(p)) return '–';
  const pct = p * 100;
  if (pct >= 99.95 && p < 1) return '>99.9%';
  return pct >= 10 ? `${pct.toFixed(1)}%` : pct >= 0.01 ? `${pct.toFixed(2)}%` : '<0.01%';
}

function hasErrors(state: PanelState): boolean {
  return state.slots.some((s) => s.error !== undefined);
}

function sanitizeDisplay(value: unknown): DisplaySettings {
  const d = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const num = (v: unknown, lo: number, hi: number, dflt: number): number =>
    typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : dflt;
  return {
    colormap: (COLORMAPS as readonly unknown[]).includes(d.colormap) ? (d.colormap as ColormapName) : DEFAULT_DISPLAY.colormap,
    alpha: num(d.alpha, 0, 1, DEFAULT_DISPLAY.alpha),
    clipPercentile: num(d.clipPercentile, 50, 100, DEFAULT_DISPLAY.clipPercentile),
    reduce: (REDUCE as readonly unknown[]).includes(d.reduce) ? (d.reduce as ReduceMode) : DEFAULT_DISPLAY.reduce,
  };
}

function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  const last = parts.pop() ?? p;
  return last === 'model.json' && parts.length ? parts.pop()! : last;
}
