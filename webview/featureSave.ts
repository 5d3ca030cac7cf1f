/**
 * A feature panel's webview state across reloads (`vscode.setState` / `getState`): the job for the host and,
 * when they are small enough, the images, so a finished grid comes back without computing it again.
 */
import type { FeatureJob, FeatureKind, ToFeatureWebviewMessage } from '../src/shared/protocol';
import type { SavedFeature, SavedTile } from '../src/shared/savedFeature';
import { emptyFeatureState, type FeatureState, type Tile } from './filterState';

/**
 * Raw RGBA bytes kept at most (base64 adds a third): the default grid, 16 filters of 128², is 1 MiB.
 * VS Code writes webview state into the workspace's storage, so many megabytes there would slow every save.
 */
export const MAX_SAVED_IMAGE_BYTES = 1.5 * 1024 * 1024;

/** Base64 of bytes (btoa takes a "binary string"; chunks keep the argument list short). */
export function toBase64(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** The bytes of a base64 string; undefined when it is not base64. */
export function fromBase64(text: string): ArrayBuffer | undefined {
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

/** The JSON-safe state to save; images only when all of them fit in `maxBytes`. */
export function saveFeature(state: FeatureState, maxBytes = MAX_SAVED_IMAGE_BYTES): SavedFeature {
  const bytes = state.tiles.reduce((n, t) => n + (t.image?.data.byteLength ?? 0), 0);
  const keepImages = bytes <= maxBytes;
  const tiles = state.tiles.map((t): SavedTile => {
    const saved: SavedTile = { index: t.index, step: t.step };
    if (t.before !== undefined && t.after !== undefined) Object.assign(saved, { before: t.before, after: t.after });
    if (keepImages && t.image) saved.image = { width: t.image.width, height: t.image.height, data: toBase64(t.image.data) };
    return saved;
  });
  return {
    job: state.job, kind: state.kind, title: state.title, modelName: state.modelName, layer: state.layer, step: state.step, steps: state.steps,
    busy: !!state.busy, error: state.error,
    complete: state.done && tiles.length > 0 && tiles.every((t) => t.image),
    tiles,
  };
}

function finite(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function restoreTile(value: unknown): Tile | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const t = value as Record<string, unknown>;
  const index = t.index === null || (Number.isInteger(t.index) && (t.index as number) >= 0) ? (t.index as number | null) : undefined;
  if (index === undefined) return undefined;
  const tile: Tile = { index, step: finite(t.step, 0) };
  const im = t.image as Record<string, unknown> | undefined;
  if (im && typeof im === 'object' && Number.isInteger(im.width) && Number.isInteger(im.height) && typeof im.data === 'string') {
    const data = fromBase64(im.data);
    const width = im.width as number;
    const height = im.height as number;
    if (data && width > 0 && height > 0 && data.byteLength === width * height * 4) tile.image = { width, height, data };
  }
  if (typeof t.before === 'number' && typeof t.after === 'number') Object.assign(tile, { before: t.before, after: t.after });
  return tile;
}

/** The state a (re)loaded webview starts from: what was saved, validated, or the empty state. */
export function restoreFeature(saved: unknown): FeatureState {
  const empty = emptyFeatureState();
  if (!saved || typeof saved !== 'object') return empty;
  const s = saved as Record<string, unknown>;
  const kind: FeatureKind = s.kind === 'dream' ? 'dream' : 'filters';
  const tiles = Array.isArray(s.tiles) ? s.tiles.map(restoreTile) : [];
  if (tiles.some((t) => !t)) return empty;
  const restored = tiles as Tile[];
  const done = s.complete === true && restored.length > 0 && restored.every((t) => t.image);
  const e = s.error as Record<string, unknown> | undefined;
  const error = e && typeof e === 'object' && typeof e.message === 'string' ? { message: e.message, cancelled: e.cancelled === true } : undefined;
  return {
    ...empty, kind, title: text(s.title), modelName: text(s.modelName), layer: text(s.layer),
    // Objective values belong to a finished run: a run started again would show them beside its live images.
    tiles: done ? restored : restored.map((t) => ({ index: t.index, step: t.step, ...(t.image ? { image: t.image } : {}) })),
    step: finite(s.step, 0), steps: finite(s.steps, 0), done,
    ...(error ? { error } : {}),
    ...(s.job && typeof s.job === 'object' ? { job: s.job as FeatureJob } : {}),
  };
}

/** Whether a message changed what is worth saving (live images and progress ticks are not). */
export function worthSaving(before: FeatureState, after: FeatureState, msg: ToFeatureWebviewMessage): boolean {
  if (msg.type === 'featureImages') return false;
  if (msg.type === 'featureBusy') return !!before.busy !== !!after.busy;
  return true;
}
