// The method catalogue, parameter validation, the parameter settings and their package.json declarations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OPTION_KEYS, readSettings } from '../../src/extension/config';
import {
  METHOD_INFO, PARAM_DEFAULTS, PARAM_LIMITS, autoPatch, relevantParams, requestOptions, sanitizeOptions,
} from '../../src/extension/methodParams';
import { parseRevivedState } from '../../src/extension/revive';
import { BASELINES, METHODS } from '../../src/shared/protocol';

describe('method catalogue', () => {
  it('labels and describes every method in one line', () => {
    assert.deepEqual(Object.keys(METHOD_INFO).sort(), [...METHODS].sort());
    for (const m of METHODS) {
      assert.ok(METHOD_INFO[m].label.length > 2, m);
      assert.ok(METHOD_INFO[m].description.length > 20 && !METHOD_INFO[m].description.includes('\n'), m);
    }
  });

  it('computes the automatic occlusion patch like the engine', () => {
    assert.deepEqual(autoPatch(224), { patch: 32, stride: 16 });
    assert.deepEqual(autoPatch(20), { patch: 4, stride: 2 });
  });
});

describe('method options', () => {
  it('drops wrong types, clamps numbers and reads 0 / "" / "auto" as automatic', () => {
    assert.deepEqual(sanitizeOptions({ samples: '9', noise: -1, squared: 'yes', smoothBase: 'magic', baseline: 'grey', integration: 'simpson', steps: 1e9, seed: 3.6 }),
      { noise: 0, steps: 10000, seed: 4 });
    assert.deepEqual(sanitizeOptions({ patch: 0, stride: 0, layer: ' ', batch: 0 }), {});
    assert.deepEqual(sanitizeOptions({ layer: 'auto' }), {});
    assert.deepEqual(sanitizeOptions({ layer: ' conv1 ', baseline: 'blur', integration: 'gauss-legendre', metrics: true, squared: false }),
      { layer: 'conv1', baseline: 'blur', integration: 'gauss-legendre', metrics: true, squared: false });
    assert.deepEqual(sanitizeOptions(null), {});
  });

  it('sends each method only the parameters it reads, plus metrics', () => {
    const all = { samples: 5, noise: 0.2, squared: true, smoothBase: 'guided' as const, steps: 8, baseline: 'white' as const, layer: 'c', patch: 4, stride: 2, batch: 3, seed: 9 };
    assert.deepEqual(requestOptions('vanilla', all), {});
    assert.deepEqual(requestOptions('vanilla', { ...all, metrics: true }), { batch: 3, seed: 9, metrics: true });
    assert.deepEqual(requestOptions('smoothgrad', all), { samples: 5, noise: 0.2, squared: true, smoothBase: 'guided', batch: 3, seed: 9 });
    assert.deepEqual(requestOptions('integrated-gradients', all), { steps: 8, baseline: 'white', batch: 3 });
    assert.deepEqual(requestOptions('integrated-gradients', { ...all, baseline: 'uniform' }), { steps: 8, baseline: 'uniform', batch: 3, seed: 9 });
    assert.deepEqual(requestOptions('hirescam', all), { layer: 'c' });
    assert.deepEqual(requestOptions('occlusion', all), { patch: 4, stride: 2, batch: 3 });
  });

  it('knows which parameters matter for several methods', () => {
    assert.deepEqual([...relevantParams(['gradcam', 'occlusion'], {})].sort(), ['batch', 'layer', 'patch', 'stride']);
  });
});

describe('parameter settings', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const props = pkg.contributes.configuration.properties;

  it('declares every parameter setting with a description, keeping the existing settings', () => {
    for (const k of OPTION_KEYS) {
      const p = props[`saliencyLens.${k}`];
      assert.ok(p, `saliencyLens.${k} is declared`);
      assert.ok(p.description || p.markdownDescription, k);
      assert.ok('default' in p, k);
    }
    for (const k of ['model', 'method', 'target', 'preprocess', 'resize', 'colormap', 'alpha', 'clipPercentile', 'reduce', 'backend', 'autoRefresh', 'requestTimeoutSeconds']) {
      assert.ok(props[`saliencyLens.${k}`], k);
    }
  });

  it('declares the engine\'s defaults, ranges and choices', () => {
    for (const k of ['samples', 'noise', 'steps', 'batch', 'seed'] as const) {
      assert.equal(props[`saliencyLens.${k}`].default, PARAM_DEFAULTS[k], k);
      assert.equal(props[`saliencyLens.${k}`].maximum, PARAM_LIMITS[k].max, k);
    }
    assert.deepEqual(props['saliencyLens.baseline'].enum, [...BASELINES]);
    assert.equal(props['saliencyLens.baseline'].enumDescriptions.length, BASELINES.length);
    assert.deepEqual(props['saliencyLens.integration'].enum, ['trapezoid', 'gauss-legendre']);
    assert.deepEqual(props['saliencyLens.smoothBase'].enum, ['vanilla', 'guided', 'gradient-x-input']);
    assert.equal(props['saliencyLens.metrics'].default, false, 'faithfulness costs extra passes: off by default');
  });

  it('reads the declared defaults as "the engine decides" (no options sent beyond its defaults)', () => {
    const s = readSettings((k) => props[`saliencyLens.${k}`]?.default);
    assert.deepEqual(s.options, { samples: 25, noise: 0.15, squared: false, smoothBase: 'vanilla', steps: 50, baseline: 'zero', integration: 'trapezoid', seed: 0, metrics: false });
  });

  it('validates what a user typed into settings.json', () => {
    const s = readSettings((k) => ({ samples: 0, layer: 'block3', patch: 9, baseline: 'nope', metrics: 'on' } as Record<string, unknown>)[k]);
    assert.deepEqual(s.options, { samples: 1, layer: 'block3', patch: 9 });
  });
});

describe('reviving a panel with parameters and a method comparison', () => {
  it('keeps a valid comparison and sanitised parameters', () => {
    const r = parseRevivedState({ imagePath: '/i.png', models: ['/m'], method: 'smoothgrad', compareMethod: 'gradcam', options: { samples: 4, noise: 'x' } });
    assert.equal(r?.compareMethod, 'gradcam');
    assert.deepEqual(r?.options, { samples: 4 });
  });
  it('ignores a method comparison with two models or an unknown method', () => {
    assert.equal(parseRevivedState({ imagePath: '/i.png', models: ['/a', '/b'], compareMethod: 'gradcam' })?.compareMethod, undefined);
    assert.equal(parseRevivedState({ imagePath: '/i.png', models: ['/a'], compareMethod: 'magic' })?.compareMethod, undefined);
  });
});
