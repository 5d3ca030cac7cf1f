/** Pure state of a feature visualisation panel: the tiles of the grid, filled live and then finished. */
import type { FeatureJob, FeatureKind, FilterImage, RgbaImage, ToFeatureWebviewMessage } from '../src/shared/protocol';

/** One tile: a filter (null: a whole-layer dream), its latest image and, when done, its objective values. */
export interface Tile {
  index: number | null;
  image?: RgbaImage;
  before?: number;
  after?: number;
  /** The optimisation step the image shows (0 before any image). */
  step: number;
}

/** Everything the feature webview shows. */
export interface FeatureState {
  kind: FeatureKind;
  title: string;
  modelName: string;
  layer: string;
  tiles: Tile[];
  step: number;
  steps: number;
  done: boolean;
  busy?: { message: string; fraction?: number };
  error?: { message: string; cancelled: boolean };
  /** The tile shown enlarged (by position), if any. */
  enlarged?: number;
  /** The host's request, kept in the saved state so the host can reopen the panel after a reload. */
  job?: FeatureJob;
}

/** The empty state before the host says what the panel is about. */
export function emptyFeatureState(): FeatureState {
  return { kind: 'filters', title: '', modelName: '', layer: '', tiles: [], step: 0, steps: 0, done: false };
}

function key(index: number | null): string {
  return index === null ? 'layer' : String(index);
}

/** Puts images into their tiles (adding tiles for unknown filters), keeping the tiles' order. */
function withImages(tiles: Tile[], images: FilterImage[], step: number, final: boolean): Tile[] {
  const byKey = new Map(images.map((im) => [key(im.index), im]));
  const out = tiles.map((t) => {
    const im = byKey.get(key(t.index));
    if (!im) return t;
    byKey.delete(key(t.index));
    return final ? { index: t.index, image: im.image, before: im.before, after: im.after, step } : { ...t, image: im.image, step };
  });
  for (const im of byKey.values()) out.push(final ? { index: im.index, image: im.image, before: im.before, after: im.after, step } : { index: im.index, image: im.image, step });
  return out;
}

/** The state after a message from the host. */
export function featureReducer(state: FeatureState, msg: ToFeatureWebviewMessage): FeatureState {
  switch (msg.type) {
    case 'featureContext': {
      const same = state.title === msg.title && state.tiles.length > 0;
      return {
        ...state, kind: msg.kind, title: msg.title, modelName: msg.modelName, layer: msg.layer, steps: msg.steps || state.steps,
        tiles: same ? state.tiles : msg.filters.map((index) => ({ index, step: 0 })), job: msg.job ?? state.job,
      };
    }
    case 'featureImages':
      if (state.done) return state;
      return { ...state, tiles: withImages(state.tiles, msg.images, msg.step, false), step: Math.max(state.step, msg.step), steps: msg.steps || state.steps };
    case 'featureResult':
      return { ...state, tiles: withImages(state.tiles, msg.result.filters, msg.result.steps, true), step: msg.result.steps, steps: msg.result.steps, done: true, layer: msg.result.layer, error: undefined };
    case 'featureBusy': {
      const busy = msg.message ? { message: msg.message, fraction: msg.fraction } : undefined;
      // A new run starts: the last one's error (such as "Cancelled.") no longer applies.
      return busy && !state.busy ? { ...state, busy, error: undefined } : { ...state, busy };
    }
    case 'featureError':
      return { ...state, error: { message: msg.message, cancelled: msg.cancelled } };
    default:
      return state;
  }
}

/** The "Run again" button is offered after a cancel or a failure, never while running or once finished. */
export function canRunAgain(state: Pick<FeatureState, 'busy' | 'error' | 'done'>): boolean {
  return !state.busy && !!state.error && !state.done;
}

/** A tile's caption: "#12", with "before → after" once finished. */
export function tileCaption(t: Tile): string {
  const name = t.index === null ? 'whole layer' : `#${t.index}`;
  if (t.before === undefined || t.after === undefined) return t.image ? `${name} · step ${t.step}` : `${name} · waiting`;
  return `${name} · ${formatValue(t.before)} → ${formatValue(t.after)}`;
}

/** An objective value with 3 significant digits. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(3)).toString();
}

/** The file name of a tile's PNG. */
export function tileFileName(state: Pick<FeatureState, 'kind' | 'layer' | 'title'>, t: Tile): string {
  const layer = state.layer.replace(/[^\w.-]+/g, '_');
  if (state.kind === 'dream') return `${state.title.replace(/^Dream: /, '').replace(/\.[^.]+$/, '')}.dream.${layer}${t.index === null ? '' : `.${t.index}`}.png`;
  return `${layer}.filter${t.index}.png`;
}

/** The next tile position when moving with the arrow keys in a grid of `columns`. */
export function moveFocus(position: number, keyName: string, count: number, columns: number): number {
  const delta: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns };
  if (keyName === 'Home') return 0;
  if (keyName === 'End') return count - 1;
  const d = delta[keyName];
  if (d === undefined) return position;
  const next = position + d;
  return next < 0 || next >= count ? position : next;
}
