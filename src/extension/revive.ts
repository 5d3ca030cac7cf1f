/** What a panel's webview saves, and its validation before the host trusts it to reopen a panel. */
import type { MethodName, MethodOptions } from '../shared/protocol';
import { parseMethod, sanitizeOptions } from './methodParams';

/** The part of the webview state the host needs to revive a panel after a reload. */
export interface RevivedState {
  imagePath: string;
  /** One model, or two when comparing. */
  models: string[];
  method?: MethodName;
  /** The second column's method when comparing methods (one model only). */
  compareMethod?: MethodName;
  target?: number | string;
  /** The panel's method parameters. */
  options?: MethodOptions;
}

/** Validates a saved webview state; undefined when it cannot describe a panel. */
export function parseRevivedState(state: unknown): RevivedState | undefined {
  if (!state || typeof state !== 'object') return undefined;
  const s = state as Record<string, unknown>;
  if (typeof s.imagePath !== 'string' || !s.imagePath) return undefined;
  const models = Array.isArray(s.models) ? s.models.filter((m): m is string => typeof m === 'string' && m !== '') : [];
  if (models.length === 0 || models.length > 2) return undefined;
  const method = parseMethod(s.method);
  const target = typeof s.target === 'number' || typeof s.target === 'string' ? s.target : undefined;
  const out: RevivedState = { imagePath: s.imagePath, models, method, target };
  const compareMethod = models.length === 1 ? parseMethod(s.compareMethod) : undefined;
  if (compareMethod) out.compareMethod = compareMethod;
  if (s.options && typeof s.options === 'object') out.options = sanitizeOptions(s.options);
  return out;
}
