/**
 * The method parameter controls: all built once, each shown only while a method on screen reads it, and
 * kept in sync with the state without disturbing a field the user is typing in.
 */
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import type { BaselineName, MethodOptions, SmoothBase } from '../src/shared/protocol';
import { BASELINES } from '../src/shared/protocol';
import {
  BASELINE_INFO, PARAM_DEFAULTS, PARAM_LIMITS, SMOOTH_BASES, autoPatch, clampParam, type NumericParam, type ParamName,
} from '../src/extension/methodParams';
import { h, options, select, setChildren, setSelectValue, type SelectOption } from './dom';
import { camLayers, visibleParams, type PanelState } from './state';

interface NumberField {
  name: NumericParam;
  label: string;
  step: string;
  title: string;
  /** Empty means automatic (the engine picks from the input size). */
  auto?: boolean;
}

const NUMBER_FIELDS: Readonly<Record<NumericParam, NumberField>> = {
  samples: { name: 'samples', label: 'Samples', step: '1', title: 'Noisy copies of the image averaged (default 25)' },
  noise: { name: 'noise', label: 'Noise σ', step: '0.01', title: 'Noise standard deviation as a fraction of the input’s value range (default 0.15)' },
  steps: { name: 'steps', label: 'Steps', step: '1', title: 'Points from the baseline to the input where gradients are evaluated (default 50)' },
  patch: { name: 'patch', label: 'Patch', step: '1', auto: true, title: 'Side of the occluding square in input pixels (empty: a seventh of the input side)' },
  stride: { name: 'stride', label: 'Stride', step: '1', auto: true, title: 'Step between patches in input pixels (empty: half the patch)' },
  batch: { name: 'batch', label: 'Batch', step: '1', auto: true, title: 'Passes per engine batch: memory versus speed (empty: automatic, from the measured memory per image)' },
  seed: { name: 'seed', label: 'Seed', step: '1', title: 'Seed of the noise, random baselines and the randomisation check (default 0)' },
};

/** The order of the controls. */
const ORDER: readonly ParamName[] = ['samples', 'noise', 'squared', 'smoothBase', 'steps', 'baseline', 'integration', 'layer', 'patch', 'stride', 'batch', 'seed'];

type Field = HTMLElement & { value: string; invalid?: boolean; checked?: boolean };

/** The parameter section and its refresh. */
export interface ParamsView {
  root: HTMLElement;
  render(state: PanelState): void;
}

function control(name: ParamName, label: string, field: HTMLElement): HTMLElement {
  return h('div', { class: 'control param', 'data-param': name }, h('vscode-label', { for: field.id }, label), field);
}

function numberField(f: NumberField): Field {
  const { min, max } = PARAM_LIMITS[f.name];
  return h('vscode-textfield', { id: `param-${f.name}`, type: 'number', min: String(min), max: String(max), step: f.step, title: f.title, 'aria-label': f.title }) as Field;
}

function writeNumber(f: NumberField, el: Field, o: MethodOptions): void {
  const v = o[f.name] ?? (f.auto ? undefined : PARAM_DEFAULTS[f.name as keyof typeof PARAM_DEFAULTS]);
  const text = v === undefined ? '' : String(v);
  if (el.value !== text) el.value = text;
}

/** Builds the parameter controls; `onChange` receives patches (undefined values: automatic). */
export function buildParams(onChange: (patch: Partial<MethodOptions>) => void): ParamsView {
  const fields = new Map<ParamName, Field>();
  for (const f of Object.values(NUMBER_FIELDS)) fields.set(f.name, numberField(f));
  const squared = h('vscode-checkbox', { id: 'param-squared', label: 'mean of squares', title: 'Average the squared gradients (SmoothGrad²)' }) as Field;
  fields.set('squared', squared);
  fields.set('smoothBase', select('param-smoothBase', SMOOTH_BASES, PARAM_DEFAULTS.smoothBase, 'Gradient being smoothed') as Field);
  fields.set('baseline', select('param-baseline', BASELINES.map((b) => ({ value: b, label: b, description: BASELINE_INFO[b] })), PARAM_DEFAULTS.baseline, 'Integrated Gradients baseline') as Field);
  fields.set('integration', select('param-integration', [
    { value: 'trapezoid', label: 'trapezoid', description: 'N points from α = 0 to 1 inclusive (Captum’s riemann_trapezoid)' },
    { value: 'gauss-legendre', label: 'Gauss–Legendre', description: 'N Gauss–Legendre nodes on [0, 1]' },
  ], PARAM_DEFAULTS.integration, 'Integration rule') as Field);
  const layer = select('param-layer', [{ value: 'auto', label: 'auto' }], 'auto', 'CAM layer') as Field;
  fields.set('layer', layer);

  const labels: Record<ParamName, string> = {
    samples: 'Samples', noise: 'Noise σ', squared: 'Squared', smoothBase: 'Smoothed gradient', steps: 'Steps', baseline: 'Baseline',
    integration: 'Integration', layer: 'Layer', patch: 'Patch', stride: 'Stride', batch: 'Batch', seed: 'Seed',
  };
  const controls = new Map<ParamName, HTMLElement>();
  for (const name of ORDER) controls.set(name, control(name, labels[name], fields.get(name)!));
  const root = h('section', { id: 'params', class: 'controls params', 'aria-label': 'Method parameters' }, ...ORDER.map((n) => controls.get(n)!));

  for (const f of Object.values(NUMBER_FIELDS)) {
    const el = fields.get(f.name)!;
    el.addEventListener('input', () => {
      const text = el.value.trim();
      if (text === '' && f.auto) {
        el.invalid = false;
        onChange({ [f.name]: undefined });
        return;
      }
      const v = clampParam(f.name, text === '' ? NaN : Number(text));
      el.invalid = v === undefined || v !== Number(text);
      if (v !== undefined) onChange({ [f.name]: v });
    });
    // Show the value actually used once the user leaves the field.
    el.addEventListener('focusout', () => {
      el.invalid = false;
      if (last) writeNumber(f, el, last.options);
    });
  }
  squared.addEventListener('change', () => onChange({ squared: !!squared.checked }));
  fields.get('smoothBase')!.addEventListener('change', (e) => onChange({ smoothBase: (e.target as Field).value as SmoothBase }));
  fields.get('baseline')!.addEventListener('change', (e) => onChange({ baseline: (e.target as Field).value as BaselineName }));
  fields.get('integration')!.addEventListener('change', (e) => onChange({ integration: (e.target as Field).value as 'trapezoid' | 'gauss-legendre' }));
  layer.addEventListener('change', () => onChange({ layer: layer.value === 'auto' ? undefined : layer.value }));

  let layerSignature = '';
  let last: PanelState | undefined;
  const render = (state: PanelState): void => {
    last = state;
    const visible = visibleParams(state);
    for (const [name, el] of controls) el.hidden = !visible.has(name);
    root.hidden = visible.size === 0;
    const o = state.options;
    const side = state.slots[0]?.result ? Math.min(state.slots[0].result.input.width, state.slots[0].result.input.height) : undefined;
    for (const f of Object.values(NUMBER_FIELDS)) {
      const el = fields.get(f.name)!;
      if (side !== undefined && (f.name === 'patch' || f.name === 'stride')) {
        el.setAttribute('max', String(side));
        el.setAttribute('placeholder', `auto (${autoPatch(side)[f.name]})`);
      } else if (f.auto) {
        el.setAttribute('placeholder', 'auto');
      }
      // Never rewrite a field while the user types in it.
      if (document.activeElement !== el) writeNumber(f, el, o);
    }
    if (squared.checked !== !!o.squared) squared.checked = !!o.squared;
    setSelectValue(fields.get('smoothBase')!, o.smoothBase ?? PARAM_DEFAULTS.smoothBase);
    setSelectValue(fields.get('baseline')!, o.baseline ?? PARAM_DEFAULTS.baseline);
    setSelectValue(fields.get('integration')!, o.integration ?? PARAM_DEFAULTS.integration);

    // The layer list: "auto" (naming the engine's choice once a result says it) and every spatial layer.
    const list = camLayers(state);
    const used = state.slots.find((s) => s.result?.layer)?.result?.layer;
    const autoName = o.layer === undefined && used ? used : list.length ? 'last spatial layer' : '';
    const entries: SelectOption[] = [{ value: 'auto', label: autoName ? `auto (${autoName})` : 'auto', description: 'The last layer with a spatial output (the engine’s default)' }];
    for (const l of list) entries.push({ value: l.name, label: l.name, description: `${l.op}${l.outputShape ? `, output ${l.outputShape.slice(1).join('×')}` : ''}` });
    if (o.layer !== undefined && !list.some((l) => l.name === o.layer)) entries.push({ value: o.layer, label: o.layer });
    const signature = JSON.stringify(entries.map((e) => e.label));
    if (signature !== layerSignature) {
      layerSignature = signature;
      setChildren(layer, ...options(entries, o.layer ?? 'auto'));
    }
    setSelectValue(layer, o.layer ?? 'auto');
  };
  return { root, render };
}
