/**
 * Feature visualisation requests on the engine: what each filter has learned (activation maximisation,
 * FlashTorch's GradientAscent and lucid's regularised version) and DeepDream, with progress, cancellation
 * and intermediate images.
 */
import { BadInputError, CancelledError } from '../../shared/errors';
import type { DreamParams, FeatureVisOptions, FeatureVisResult, FilterImage, VisualizeFiltersParams } from '../../shared/protocol';
import { decodeImage } from '../image/decode';
import { fitImage } from '../image/fit';
import { choosePreprocess } from '../image/settings';
import type { Engine, RequestControl } from '../engine';
import { DEFAULT_PREPROCESS, DEFAULT_RESIZE, type LoadedModel } from '../model';
import { DREAM_DEFAULTS, dreamOnModel } from './dream';
import { DEFAULT_STEPS, FLASHTORCH_STEPS, visualizeModelFilters, type FeatureVisHooks, type FilterOutcome } from './filters';
import { toRgbaImage } from './images';

export { visualizeModelFilters, type FilterOutcome } from './filters';
export { dreamOnModel } from './dream';
export { filterGrid } from './images';

/** Request hooks plus the live images of the filters being optimised. */
export interface FeatureVisControl extends RequestControl {
  /** Called every `imageEvery` steps (default: an eighth of the steps) with the current pictures. */
  onImages?: (step: number, steps: number, images: FilterImage[]) => void;
}

/** A filter outcome as the protocol carries it (RGBA pixels). */
export function toFilterImage(o: FilterOutcome): FilterImage {
  return { index: o.index, before: o.before, after: o.after, image: toRgbaImage(o.image) };
}

function hooksOf(control: FeatureVisControl | undefined, from: number): FeatureVisHooks {
  return {
    onProgress: (f, m) => control?.onProgress?.(from + (1 - from) * f, m),
    checkpoint: async () => {
      await new Promise((r) => setImmediate(r));
      if (control?.isCancelled?.()) throw new CancelledError();
    },
    onImages: control?.onImages ? (step, steps, images) => control.onImages!(step, steps, images.map(toFilterImage)) : undefined,
  };
}

/** Intermediate images every eighth of the steps when someone listens and the caller did not choose. */
function withImageEvery(options: FeatureVisOptions | undefined, control: FeatureVisControl | undefined, defaultSteps: number): FeatureVisOptions {
  const o = { ...options };
  if (control?.onImages && o.imageEvery === undefined) o.imageEvery = Math.max(1, Math.round((o.steps ?? defaultSteps) / 8));
  return o;
}

async function loadFor(engine: Engine, params: { modelPath: string; labelsPath?: string }, control?: RequestControl): Promise<{ model: LoadedModel; loadMs: number }> {
  control?.onProgress?.(0, 'loading model');
  return engine.model(params.modelPath, params.labelsPath);
}

/** Visualises filters of a layer (or classes): one optimised picture per filter. */
export async function visualizeFilters(engine: Engine, params: VisualizeFiltersParams, control?: FeatureVisControl): Promise<FeatureVisResult> {
  const { model, loadMs } = await loadFor(engine, params, control);
  const { preprocess, source } = choosePreprocess(params.preprocess, model.settings, DEFAULT_PREPROCESS);
  const options = withImageEvery(params.options, control, params.options?.flashtorch ? FLASHTORCH_STEPS : DEFAULT_STEPS);
  const start = performance.now();
  const r = await visualizeModelFilters(model, preprocess, params.layer, params.filters, params.count, options, hooksOf(control, 0.05));
  return {
    backend: engine.backend, model: model.info(preprocess, source), layer: r.layer, objective: r.options.objective,
    param: r.options.param, steps: r.options.steps, filters: r.outcomes.map(toFilterImage),
    timingMs: { load: loadMs, optimize: performance.now() - start },
  };
}

/** DeepDream on an image: one picture per listed filter, or one for the whole layer. */
export async function dream(engine: Engine, params: DreamParams, control?: FeatureVisControl): Promise<FeatureVisResult> {
  const { model, loadMs } = await loadFor(engine, params, control);
  const { preprocess, source } = choosePreprocess(params.preprocess, model.settings, DEFAULT_PREPROCESS);
  control?.onProgress?.(0.02, 'reading image');
  const size = params.options?.size;
  if (size !== undefined && (!Number.isInteger(size) || size < 8 || size > 4096)) throw new BadInputError('--size', `must be a whole number from 8 to 4096 (got ${size})`);
  const decoded = await decodeImage(params.imagePath);
  const fitted = fitImage(decoded, size ?? model.height, size ?? model.width, params.resize ?? model.settings.resize ?? DEFAULT_RESIZE);
  const options = withImageEvery(params.options, control, DREAM_DEFAULTS.steps);
  const start = performance.now();
  const r = await dreamOnModel(model, preprocess, fitted, params.layer, params.filters, options, hooksOf(control, 0.05));
  return {
    backend: engine.backend, model: model.info(preprocess, source), layer: r.layer,
    objective: params.filters?.length ? r.options.objective : 'layer', param: 'pixel', steps: r.options.steps,
    filters: r.outcomes.map(toFilterImage), timingMs: { load: loadMs, optimize: performance.now() - start },
  };
}
