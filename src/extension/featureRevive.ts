/**
 * Reopening a filter grid or dream panel after a window reload: the host's validation of what its webview
 * saved (src/shared/savedFeature.ts; it comes back from storage and is not trusted), what to do with it, and the
 * check that keeps a restored panel from reading files outside the workspace.
 */
import * as path from 'node:path';
import { FEATURE_OBJECTIVES, PREPROCESS_PRESETS, type FeatureJob, type FeatureVisOptions, type ModelOptions } from '../shared/protocol';
import type { SavedFeature } from '../shared/savedFeature';

/** 'show': the saved images; 'run': compute again (interrupted, or too large to keep); 'offer': show the last error and a Run again button. */
export type RevivePlan = 'show' | 'run' | 'offer';

/** A validated saved panel and what to do with it. */
export interface RevivedFeature {
  job: FeatureJob;
  plan: RevivePlan;
}

const NUMBER_OPTIONS = ['steps', 'size', 'seed', 'lr', 'l2', 'tv', 'contrast', 'batch', 'imageEvery', 'octaves', 'octaveScale'] as const;
const BOOLEAN_OPTIONS = ['transforms', 'negative', 'flashtorch'] as const;
/** More filters than any layer of the supported models has: a bound on what a saved state may ask for. */
const MAX_FILTERS = 4096;

function record(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The options with a known name and the right type (the engine checks their ranges with its own messages). */
export function sanitizeFeatureOptions(value: unknown): FeatureVisOptions {
  const o = record(value) ?? {};
  const out: FeatureVisOptions = {};
  for (const k of NUMBER_OPTIONS) if (typeof o[k] === 'number' && Number.isFinite(o[k])) out[k] = o[k] as number;
  for (const k of BOOLEAN_OPTIONS) if (typeof o[k] === 'boolean') out[k] = o[k] as boolean;
  if ((FEATURE_OBJECTIVES as readonly unknown[]).includes(o.objective)) out.objective = o.objective as FeatureVisOptions['objective'];
  if (o.param === 'pixel' || o.param === 'fourier') out.param = o.param;
  if (o.optimizer === 'adam' || o.optimizer === 'rms') out.optimizer = o.optimizer;
  return out;
}

function modelOptions(p: Record<string, unknown>, modelPath: string): ModelOptions {
  const out: ModelOptions = { modelPath };
  if ((PREPROCESS_PRESETS as readonly unknown[]).includes(p.preprocess)) out.preprocess = p.preprocess as ModelOptions['preprocess'];
  if (p.resize === 'squash' || p.resize === 'center-crop') out.resize = p.resize;
  const labels = nonEmpty(p.labelsPath);
  if (labels) out.labelsPath = labels;
  return out;
}

function filterList(value: unknown): number[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_FILTERS) return undefined;
  return value.every((f) => Number.isInteger(f) && f >= 0) ? (value as number[]) : undefined;
}

/** Validates a saved job; undefined when it cannot describe a request. */
export function parseFeatureJob(value: unknown): FeatureJob | undefined {
  const j = record(value);
  const p = record(j?.params);
  const modelPath = nonEmpty(p?.modelPath);
  const layer = nonEmpty(p?.layer);
  if (!j || !p || !modelPath || !layer) return undefined;
  const filters = p.filters === undefined ? undefined : filterList(p.filters);
  if (p.filters !== undefined && !filters) return undefined;
  const options = sanitizeFeatureOptions(p.options);
  if (j.kind === 'filters') {
    const count = Number.isInteger(p.count) && (p.count as number) > 0 ? (p.count as number) : undefined;
    return { kind: 'filters', params: { ...modelOptions(p, modelPath), layer, ...(filters ? { filters } : {}), ...(count && !filters ? { count } : {}), options } };
  }
  const imagePath = nonEmpty(p.imagePath);
  if (j.kind !== 'dream' || !imagePath) return undefined;
  return { kind: 'dream', params: { ...modelOptions(p, modelPath), imagePath, layer, ...(filters ? { filters } : {}), options } };
}

/** Validates a saved webview state and decides how the panel comes back; undefined when it is unusable. */
export function parseRevivedFeature(state: unknown): RevivedFeature | undefined {
  // Field names tied to the saved shape; their values are checked one by one.
  const s = record(state) as Partial<Record<keyof SavedFeature, unknown>> | undefined;
  const job = parseFeatureJob(s?.job);
  if (!s || !job) return undefined;
  const error = record(s.error);
  const plan: RevivePlan = s.complete === true ? 'show' : s.busy !== true && typeof error?.message === 'string' ? 'offer' : 'run';
  return { job, plan };
}

/** True when `file` is inside one of the folders (compared as resolved paths). */
export function insideFolders(file: string, folders: readonly string[]): boolean {
  const target = path.resolve(file);
  return folders.some((folder) => {
    const rel = path.relative(path.resolve(folder), target);
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
  });
}

/** The files a job reads: the model, a labels file, a dream's image. */
export function jobFiles(job: FeatureJob): string[] {
  const files = [job.params.modelPath];
  if (job.params.labelsPath) files.push(job.params.labelsPath);
  if (job.kind === 'dream') files.push(job.params.imagePath);
  return files;
}

/** Why a restored job must not run (a one-line message naming the file), or undefined when it may. */
export async function checkRevivedJob(job: FeatureJob, folders: readonly string[], exists: (file: string) => Promise<boolean>): Promise<string | undefined> {
  const command = job.kind === 'dream' ? 'Deep Dream…' : 'Visualize Filters…';
  for (const file of jobFiles(job)) {
    if (!insideFolders(file, folders)) return `${file}: outside the workspace, so a restored panel does not read it (run ${command} again)`;
    if (!(await exists(file))) return `${file}: not found (moved or deleted since the panel was opened)`;
  }
  return undefined;
}
