import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { choosePreprocess, readModelSettings, SETTINGS_FILE } from '../../src/engine/image/settings';
import { isBadInput } from '../../src/shared/errors';

let root: string;
let count = 0;
before(() => { root = mkdtempSync(join(tmpdir(), 'saliency-settings-')); });
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh model folder with model.json and, when given, a settings file with that text. */
function modelWith(settings?: string, files: Record<string, string> = {}): { folder: string; model: string; settings: string } {
  const folder = join(root, `m${count++}`);
  mkdirSync(folder);
  writeFileSync(join(folder, 'model.json'), '{}');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(folder, name), text);
  if (settings !== undefined) writeFileSync(join(folder, SETTINGS_FILE), settings);
  return { folder, model: join(folder, 'model.json'), settings: join(folder, SETTINGS_FILE) };
}

function rejects(settingsText: string, problem: RegExp, files: Record<string, string> = {}): void {
  const m = modelWith(settingsText, files);
  assert.throws(() => readModelSettings(m.model), (err: unknown) => {
    assert.ok(isBadInput(err), String(err));
    assert.equal(err.subject, m.settings);
    assert.match(err.message, problem);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

test('no settings file gives empty settings', () => {
  assert.deepEqual(readModelSettings(modelWith().model), {});
});

test('a full settings file is read, with the labels path resolved in the model folder', () => {
  const m = modelWith(JSON.stringify({ preprocess: 'caffe', resize: 'center-crop', labels: 'names.txt', inputSize: [160, 192], comment: 'ok' }), { 'names.txt': 'a\nb\n' });
  assert.deepEqual(readModelSettings(m.model), {
    path: m.settings, preprocess: 'caffe', resize: 'center-crop', labels: join(m.folder, 'names.txt'), inputSize: [160, 192],
  });
  // A model given as its folder finds the same file.
  assert.equal(readModelSettings(m.folder).preprocess, 'caffe');
});

test('invalid settings files are one-line errors naming the file', () => {
  rejects('{ "preprocess": "imagenet", }', /invalid JSON/);
  rejects('[1, 2]', /must hold a JSON object/);
  rejects('{ "preproces": "unit" }', /unknown key "preproces"/);
  rejects('{ "preprocess": "torch" }', /"preprocess" must be one of unit, symmetric, imagenet, caffe, raw \(got "torch"\)/);
  rejects('{ "resize": "stretch" }', /"resize" must be one of squash, center-crop/);
  rejects('{ "inputSize": [224] }', /"inputSize" must be \[height, width\]/);
  rejects('{ "inputSize": [224, 0] }', /"inputSize"/);
  rejects('{ "inputSize": [224.5, 224] }', /"inputSize"/);
  rejects('{ "inputSize": [100000, 224] }', /"inputSize"/);
  rejects('{ "labels": 3 }', /"labels" must be a file name/);
  rejects('{ "labels": "missing.txt" }', /"labels" file not found: missing.txt/);
});

test('labels outside the model folder are refused', () => {
  const outside = join(root, 'outside.txt');
  writeFileSync(outside, 'x\n');
  rejects(JSON.stringify({ labels: outside }), /not an absolute path/);
  rejects('{ "labels": "../outside.txt" }', /points outside the model folder/);
  const m = modelWith(JSON.stringify({ labels: 'link.txt' }));
  symlinkSync(outside, join(m.folder, 'link.txt'));
  assert.throws(() => readModelSettings(m.model), (err: unknown) => isBadInput(err) && /links outside the model folder/.test(err.message));
});

test('preprocessing choice: option, then settings file, then default', () => {
  assert.deepEqual(choosePreprocess('raw', { preprocess: 'caffe' }, 'unit'), { preprocess: 'raw', source: 'option' });
  assert.deepEqual(choosePreprocess(undefined, { preprocess: 'caffe' }, 'unit'), { preprocess: 'caffe', source: 'settings-file' });
  assert.deepEqual(choosePreprocess(undefined, {}, 'unit'), { preprocess: 'unit', source: 'default' });
});
