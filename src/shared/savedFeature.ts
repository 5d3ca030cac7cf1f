/** What a filter grid or dream webview keeps with `vscode.setState`, read back by the host after a window reload. */
import type { FeatureJob, FeatureKind } from './protocol';

/** One saved tile; `image.data` is base64 of the RGBA bytes (webview state must be JSON). */
export interface SavedTile {
  index: number | null;
  step: number;
  before?: number;
  after?: number;
  image?: { width: number; height: number; data: string };
}

/** A feature panel's saved webview state. */
export interface SavedFeature {
  /** The request, as the host sent it: what the host needs to reopen the panel. */
  job?: FeatureJob;
  kind: FeatureKind;
  title: string;
  modelName: string;
  layer: string;
  step: number;
  steps: number;
  /** A computation was running when the state was saved (a reload interrupts it). */
  busy: boolean;
  error?: { message: string; cancelled: boolean };
  /** Finished, with every tile's image saved: the panel can come back without computing anything. */
  complete: boolean;
  tiles: SavedTile[];
}
