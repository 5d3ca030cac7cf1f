import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mapCompareTarget } from '../../src/extension/compare';
import { MAX_KERNEL_THREADS, MAX_THREADS, MAX_WORKERS, parseKernelThreadsSetting, parseTarget, parseThreadsSetting, parseWorkersSetting, readSettings } from '../../src/extension/config';
import { describeEnv, engineEnv } from '../../src/extension/engineTypes';
import { featureOptions as featureOptionsOf } from '../../src/extension/filterSelect';
import { exportPath, imageGlob, isImagePath, modelName, panelTitle, resolveSettingPath } from '../../src/extension/paths';
import { parseRevivedState } from '../../src/extension/revive';
import { COLORMAPS, METHODS, PREPROCESS_PRESETS } from '../../src/shared/protocol';

describe('compare: the second model\'s target', () => {
  const tabby = { index: 2, label: 'tabby' };
  it('uses the index when both models have the same labels', () => {
    assert.deepEqual(mapCompareTarget(tabby, ['a', 'b', 'tabby'], ['a', 'b', 'tabby']), { target: 2 });
  });
  it('matches by label when the label lists differ', () => {
    const m = mapCompareTarget(tabby, ['a', 'b', 'tabby'], ['tabby', 'dog']);
    assert.equal(m.target, 0);
    assert.match(m.note ?? '', /matched by label "tabby"/);
  });
  it('falls back to the second model\'s top-1 when it lacks the label, and says so', () => {
    const m = mapCompareTarget(tabby, ['a', 'b', 'tabby'], ['cat', 'dog']);
    assert.equal(m.target, undefined);
    assert.match(m.note ?? '', /not a class of this model/);
  });
  it('lets the engine resolve the label when the second list is unknown', () => {
    assert.equal(mapCompareTarget(tabby, ['a', 'b', 'tabby'], undefined).target, 'tabby');
  });
});

describe('settings', () => {
  const from = (values: Record<string, unknown>) => readSettings((k) => values[k]);
  it('has defaults for everything', () => {
    const s = from({});
    assert.equal(s.method, 'vanilla');
    assert.equal(s.target, undefined);
    assert.equal(s.preprocess, undefined);
    assert.equal(s.resize, undefined);
    assert.deepEqual(s.display, { colormap: 'viridis', alpha: 0.5, clipPercentile: 99, reduce: 'max-abs' });
    assert.equal(s.backend, '');
    assert.equal(s.threads, undefined);
    assert.equal(s.workers, undefined);
    assert.equal(s.autoRefresh, true);
    assert.equal(s.requestTimeoutMs, 300_000);
  });
  it('replaces out-of-range values by defaults or clamps them', () => {
    const s = from({ method: 'magic', colormap: 'rainbow', alpha: 3, clipPercentile: 10, reduce: 'sum', backend: 'gpu', preprocess: 'auto', resize: 'auto', requestTimeoutSeconds: -5, autoRefresh: false });
    assert.equal(s.method, 'vanilla');
    assert.equal(s.display.colormap, 'viridis');
    assert.equal(s.display.alpha, 1);
    assert.equal(s.display.clipPercentile, 50);
    assert.equal(s.display.reduce, 'max-abs');
    assert.equal(s.backend, '');
    assert.equal(s.preprocess, undefined);
    assert.equal(s.requestTimeoutMs, 0);
    assert.equal(s.autoRefresh, false);
  });
  it('reads the wasm threads as a number or a string of 1..8, anything else as automatic', () => {
    assert.equal(from({ wasmThreads: '3' }).threads, 3);
    assert.equal(from({ wasmThreads: 2 }).threads, 2);
    assert.equal(parseThreadsSetting(String(MAX_THREADS)), MAX_THREADS);
    for (const v of ['auto', '', '0', '9', 9, 0, -1, 2.5, '2.5', 'two', null, true]) assert.equal(parseThreadsSetting(v), undefined, String(v));
  });
  it('reads the gradient workers as a number or a string of 0..3 (0: off), anything else as automatic', () => {
    assert.equal(from({ gradientWorkers: '2' }).workers, 2);
    assert.equal(from({ gradientWorkers: '0' }).workers, 0);
    assert.equal(from({ gradientWorkers: 1 }).workers, 1);
    assert.equal(from({ gradientWorkers: 'auto' }).workers, undefined);
    assert.equal(parseWorkersSetting(String(MAX_WORKERS)), MAX_WORKERS);
    for (const v of ['auto', '', '4', 4, -1, '-1', 1.5, '1.5', 'one', null, true]) assert.equal(parseWorkersSetting(v), undefined, String(v));
  });
  it('always sets every engine variable, blank when automatic, and describes only the set ones', () => {
    const auto = engineEnv('auto', undefined, undefined);
    assert.deepEqual(auto, { SALIENCY_LENS_BACKEND: '', SALIENCY_LENS_THREADS: '', SALIENCY_LENS_WORKERS: '', SALIENCY_LENS_KERNEL_WORKERS: '' });
    const noKernel = engineEnv('', undefined, undefined, 0);
    assert.equal(noKernel.SALIENCY_LENS_KERNEL_WORKERS, '0', '0 turns the kernel thread off');
    assert.equal(describeEnv(noKernel), '0 kernel thread(s)');
    assert.equal(describeEnv(auto), '');
    const off = engineEnv('', undefined, 0);
    assert.equal(off.SALIENCY_LENS_WORKERS, '0', '0 turns the helpers off; it is not automatic');
    assert.equal(describeEnv(off), '0 gradient worker(s)');
    assert.equal(describeEnv(engineEnv('wasm', 2, 3)), 'backend wasm, 2 wasm thread(s), 3 gradient worker(s)');
  });
  it('passes valid choices through', () => {
    const s = from({ method: 'guided', preprocess: 'imagenet', resize: 'center-crop', backend: 'wasm', colormap: 'jet' });
    assert.equal(s.method, 'guided');
    assert.equal(s.preprocess, 'imagenet');
    assert.equal(s.resize, 'center-crop');
    assert.equal(s.backend, 'wasm');
    assert.equal(s.display.colormap, 'jet');
  });
  it('parses a target as index or label', () => {
    assert.equal(parseTarget(''), undefined);
    assert.equal(parseTarget('  281 '), 281);
    assert.equal(parseTarget('tabby cat'), 'tabby cat');
    assert.equal(parseTarget(7), 7);
    assert.equal(parseTarget(-1), undefined);
  });
});

describe('paths', () => {
  it('recognises images by extension in any case', () => {
    for (const p of ['a.png', 'b.JPG', 'c.jpeg', 'd.webp', 'e.gif', 'f.bmp', 'g.tif', 'h.TIFF']) assert.ok(isImagePath(p), p);
    for (const p of ['model.json', 'x.onnx', 'png', 'a.png.txt']) assert.ok(!isImagePath(p), p);
    assert.match(imageGlob(), /^\*\*\/\*\.\{png,jpg,.*PNG,JPG/);
  });
  it('names models and panels', () => {
    assert.equal(modelName('/w/resnet18/model.json'), 'resnet18');
    assert.equal(modelName('/w/nets/squeezenet.onnx'), 'squeezenet.onnx');
    assert.equal(panelTitle('/w/img/cat.png'), 'Saliency: cat.png');
  });
  it('puts exports beside the image', () => {
    assert.equal(exportPath('/w/img/cat.png', 'guided', 'png'), '/w/img/cat.guided.saliency.png');
    assert.equal(exportPath('/w/img/cat.jpg', 'vanilla', 'npy', 'my net'), '/w/img/cat.vanilla.my_net.saliency.npy');
  });
  it('resolves the model setting against the workspace', () => {
    assert.equal(resolveSettingPath('', '/w'), undefined);
    assert.equal(resolveSettingPath('models/a/model.json', '/w'), '/w/models/a/model.json');
    assert.equal(resolveSettingPath('/abs/m.onnx', undefined), '/abs/m.onnx');
    assert.equal(resolveSettingPath('rel.onnx', undefined), undefined);
  });
});

describe('reviving a panel from its saved webview state', () => {
  it('accepts what the webview saves', () => {
    assert.deepEqual(parseRevivedState({ imagePath: '/w/cat.png', models: ['/w/a/model.json', '/w/b.onnx'], method: 'guided', target: 3, display: {} }),
      { imagePath: '/w/cat.png', models: ['/w/a/model.json', '/w/b.onnx'], method: 'guided', target: 3 });
  });
  it('rejects states that cannot describe a panel', () => {
    for (const s of [null, 'x', {}, { imagePath: '/w/cat.png', models: [] }, { imagePath: '', models: ['/m'] }, { imagePath: '/i', models: ['/a', '/b', '/c'] }]) {
      assert.equal(parseRevivedState(s), undefined, JSON.stringify(s));
    }
    assert.equal(parseRevivedState({ imagePath: '/i', models: ['/m'], method: 'nope' })?.method, undefined);
  });
});

describe('package.json contributions', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const props = pkg.contributes.configuration.properties;
  it('offers exactly the methods, colour maps and presets the protocol knows', () => {
    assert.deepEqual(props['saliencyLens.method'].enum, [...METHODS]);
    assert.deepEqual(props['saliencyLens.colormap'].enum, [...COLORMAPS]);
    assert.deepEqual(props['saliencyLens.preprocess'].enum, ['auto', ...PREPROCESS_PRESETS]);
  });
  it('uses the defaults the extension falls back to', () => {
    const s = readSettings((k) => props[`saliencyLens.${k}`]?.default);
    assert.equal(props['saliencyLens.method'].default, s.method);
    assert.equal(props['saliencyLens.colormap'].default, s.display.colormap);
    assert.equal(props['saliencyLens.alpha'].default, s.display.alpha);
    assert.equal(props['saliencyLens.clipPercentile'].default, s.display.clipPercentile);
    assert.equal(props['saliencyLens.reduce'].default, s.display.reduce);
    assert.equal(props['saliencyLens.requestTimeoutSeconds'].default * 1000, s.requestTimeoutMs);
    assert.equal(props['saliencyLens.wasmThreads'].default, 'auto');
    assert.equal(s.threads, undefined);
    assert.equal(props['saliencyLens.gradientWorkers'].default, 'auto');
    assert.equal(s.workers, undefined);
  });
  it('offers exactly the gradient worker counts the setting parser accepts, each described', () => {
    const offered: string[] = props['saliencyLens.gradientWorkers'].enum;
    assert.deepEqual(offered, ['auto', ...Array.from({ length: MAX_WORKERS + 1 }, (_, i) => String(i))]);
    assert.equal(props['saliencyLens.gradientWorkers'].enumDescriptions.length, offered.length);
    for (const v of offered.slice(1)) assert.equal(parseWorkersSetting(v), Number(v));
  });
  it('reads the kernel threads setting and offers exactly the counts the engine accepts', async () => {
    const read = (v: unknown) => readSettings((k) => (k === 'kernelThreads' ? v : undefined)).kernelThreads;
    assert.equal(read('0'), 0);
    assert.equal(read(1), 1);
    assert.equal(read('auto'), undefined);
    assert.equal(parseKernelThreadsSetting('2'), undefined);
    const offered: string[] = props['saliencyLens.kernelThreads'].enum;
    assert.equal(props['saliencyLens.kernelThreads'].default, 'auto');
    assert.deepEqual(offered, ['auto', ...Array.from({ length: MAX_KERNEL_THREADS + 1 }, (_, i) => String(i))]);
    assert.equal(props['saliencyLens.kernelThreads'].enumDescriptions.length, offered.length);
    const { MAX_KERNEL_WORKERS, parseKernelWorkers } = await import('../../src/engine/backend');
    assert.equal(MAX_KERNEL_THREADS, MAX_KERNEL_WORKERS);
    for (let n = 0; n <= MAX_KERNEL_THREADS; n++) assert.equal(parseKernelWorkers(String(n), 'test'), parseKernelThreadsSetting(String(n)));
  });
  it('accepts exactly the gradient worker counts the engine accepts', async () => {
    // Loaded here only: the engine's module pulls in TensorFlow.js.
    const { MAX_GRADIENT_WORKERS, parseWorkers } = await import('../../src/engine/backend');
    assert.equal(MAX_WORKERS, MAX_GRADIENT_WORKERS);
    for (let n = 0; n <= MAX_WORKERS; n++) assert.equal(parseWorkers(String(n), 'test'), parseWorkersSetting(String(n)));
  });
  it('offers exactly the thread counts the engine accepts', async () => {
    // Loaded here only: the engine's module pulls in TensorFlow.js.
    const { MAX_WASM_THREADS } = await import('../../src/engine/wasmThreads');
    assert.equal(MAX_THREADS, MAX_WASM_THREADS);
    const offered: string[] = props['saliencyLens.wasmThreads'].enum;
    assert.deepEqual(offered, ['auto', ...Array.from({ length: MAX_WASM_THREADS }, (_, i) => String(i + 1))]);
    for (const v of offered.slice(1)) assert.equal(parseThreadsSetting(v), Number(v));
  });
  it('declares every command in the "Saliency Lens" category, and every menu command', () => {
    const ids = new Set(pkg.contributes.commands.map((c: { command: string; category: string }) => {
      assert.equal(c.category, 'Saliency Lens');
      return c.command;
    }));
    assert.deepEqual([...ids].sort(), ['saliencyLens.compareModels', 'saliencyLens.deepDream', 'saliencyLens.explainImage', 'saliencyLens.selectModel', 'saliencyLens.showPanel', 'saliencyLens.visualizeFilters']);
    for (const items of Object.values(pkg.contributes.menus) as { command: string }[][]) {
      for (const item of items) assert.ok(ids.has(item.command), item.command);
    }
  });
  it('shows the explorer entry exactly for image extensions', () => {
    const when: string = pkg.contributes.menus['explorer/context'][0].when;
    const m = /^resourceExtname =~ \/(.*)\/(\w*)$/.exec(when);
    assert.ok(m, when);
    const re = new RegExp(m[1], m[2]);
    for (const ext of ['.png', '.JPG', '.jpeg', '.webp', '.gif', '.bmp', '.tif', '.tiff']) assert.ok(re.test(ext), ext);
    for (const ext of ['.json', '.onnx', '.pngx', '.svg']) assert.ok(!re.test(ext), ext);
    // Deep Dream is offered on exactly the same files as Explain Image.
    const dream = pkg.contributes.menus['explorer/context'].find((i: { command: string }) => i.command === 'saliencyLens.deepDream');
    assert.equal(dream?.when, when);
  });
  it('has feature visualisation settings whose defaults the extension reads back', () => {
    assert.equal(props['saliencyLens.filterSteps'].default, 128);
    assert.equal(props['saliencyLens.filterSize'].default, 128);
    assert.deepEqual(featureOptionsOf((k) => props[`saliencyLens.${k}`]?.default), { steps: 128, size: 128 });
    assert.deepEqual(featureOptionsOf((k) => ({ filterSteps: 0, filterSize: 0 } as Record<string, unknown>)[k]), {});
    assert.deepEqual(featureOptionsOf((k) => ({ filterSteps: 8.5, filterSize: 'x' } as Record<string, unknown>)[k]), {});
  });
});
