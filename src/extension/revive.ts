/** What a panel's webview saves, and its validation before the host trusts it to reopen a panel. */
import { METHODS, type MethodName } from '../shared/protocol';

/** The part of the webview state the host needs to revive a panel after a reload. */
export interface RevivedState {
  imagePath: string;
  /** One model, or two when comparing. */
  models: string[];
  method?: MethodName;
  target?: number | string;
}

/** Validates a saved webview state; undefined when it cannot describe a panel. */
export function parseRevivedState(state: unknown): RevivedState | undefined {
  if (!state || typeof state !== 'object') return undefined;
  const s = state as Record<string, unknown>;
  if (typeof s.imagePath !== 'string' || !s.imagePath) return undefined;
  const models = Array.isArray(s.models) ? s.models.filter((m): m is string => typeof m === 'string' && m !== '') : [];
  if (models.length === 0 || models.length > 2) return undefined;
  const method = typeof s.method === 'string' && (METHODS as readonly string[]).includes(s.method) ? (s.method as MethodName) : undefined;
  const target = typeof s.target === 'number' || typeof s.target === 'string' ? s.target : undefined;
  return { imagePath: s.imagePath, models, method, target };
}
