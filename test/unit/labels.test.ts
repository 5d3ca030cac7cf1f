import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGENET_CLASSES, loadLabels, resolveTarget } from '../../src/engine/labels';
import { isBadInput } from '../../src/shared/errors';

let root: string;
let count = 0;
before(() => { root = mkdtempSync(join(tmpdir(), 'saliency-labels-')); });
after(() => rmSync(root, { recursive: true, force: true }));

function modelWith(files: Record<string, string> = {}): { folder: string; model: string } {
  const folder = join(root, `m${count++}`);
  mkdirSync(folder);
  writeFileSync(join(folder, 'model.json'), '{}');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(folder, name), text);
  return { folder, model: join(folder, 'model.json') };
}

function badInput(fn: () => unknown, subject: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isBadInput(err), String(err));
    assert.equal(err.subject, subject);
    assert.match(err.message, problem);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

test('the ImageNet names are torchvision\'s 1000, in order', () => {
  assert.equal(IMAGENET_CLASSES.length, 1000);
  assert.equal(new Set(IMAGENET_CLASSES).size, 1000);
  assert.deepEqual([IMAGENET_CLASSES[0], IMAGENET_CLASSES[281], IMAGENET_CLASSES[285], IMAGENET_CLASSES[999]], ['tench', 'tabby', 'Egyptian cat', 'toilet tissue']);
});

test('label sources: override, metadata, files beside the model, ImageNet guess, none', () => {
  const plain = modelWith();
  assert.deepEqual(loadLabels(plain.model, 3), { labels: ['class 0', 'class 1', 'class 2'], source: 'none' });
  const guess = loadLabels(plain.model, 1000);
  assert.equal(guess.source, 'imagenet-guess');
  assert.equal(guess.labels[285], 'Egyptian cat');
  assert.equal(loadLabels(plain.model, 1001).labels[286], 'Egyptian cat', '1001 classes: background first');
  assert.deepEqual(loadLabels(plain.model, 2, undefined, ['cat', 'dog']), { labels: ['cat', 'dog'], source: 'model' });

  const txt = modelWith({ 'labels.txt': '\uFEFFcat\r\ndog\r\n\r\n', 'classes.txt': 'x\ny\n' });
  assert.deepEqual(loadLabels(txt.model, 2), { labels: ['cat', 'dog'], source: join(txt.folder, 'labels.txt') });
  const classes = modelWith({ 'classes.txt': 'n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n' });
  assert.deepEqual(loadLabels(classes.model, 2).labels, ['tench, Tinca tinca', 'goldfish, Carassius auratus'], 'synset ids dropped');
  const array = modelWith({ 'labels.json': '["a", "b", "c"]' });
  assert.deepEqual(loadLabels(array.model, 3).labels, ['a', 'b', 'c']);
  const object = modelWith({ 'labels.json': '{"1": "b", "0": ["n0001", "a"]}' });
  assert.deepEqual(loadLabels(object.model, 2).labels, ['a', 'b']);

  // An explicit file wins over everything beside the model.
  const override = join(root, 'mine.txt');
  writeFileSync(override, 'left\nright\n');
  assert.deepEqual(loadLabels(txt.model, 2, override, ['m1', 'm2']), { labels: ['left', 'right'], source: override });
});

test('labels files that do not fit the model are one-line errors naming the file', () => {
  const short = modelWith({ 'labels.txt': 'a\nb\n' });
  badInput(() => loadLabels(short.model, 3), join(short.folder, 'labels.txt'), /has 2 labels but the model has 3 classes/);
  const broken = modelWith({ 'labels.json': '{"0": "a",' });
  badInput(() => loadLabels(broken.model, 1), join(broken.folder, 'labels.json'), /invalid JSON/);
  const badKey = modelWith({ 'labels.json': '{"zero": "a"}' });
  badInput(() => loadLabels(badKey.model, 1), join(badKey.folder, 'labels.json'), /key "zero" is not a class index/);
  const missing = join(root, 'nope.txt');
  badInput(() => loadLabels(short.model, 2, missing), missing, /file not found/);
});

const PETS = ['tabby, tabby cat', 'tiger cat', 'Persian cat', 'Egyptian cat', 'tiger', 'cougar, puma, catamount', 'hot dog', 'dog sled'];

test('targets by index: numbers and digit strings, range-checked', () => {
  assert.equal(resolveTarget(PETS, 3), 3);
  assert.equal(resolveTarget(PETS, ' 7 '), 7);
  badInput(() => resolveTarget(PETS, 8), 'target', /class index 8 out of range \(0–7\)/);
  badInput(() => resolveTarget(PETS, '-1'), 'target', /class index -1 out of range/);
  badInput(() => resolveTarget(PETS, 1.5), 'target', /must be an integer/);
});

test('targets by label: exact (any synonym, any case), then whole word, then substring', () => {
  assert.equal(resolveTarget(PETS, 'Tabby'), 0, 'exact full label');
  assert.equal(resolveTarget(PETS, 'tabby cat'), 0, 'exact synonym');
  assert.equal(resolveTarget(PETS, 'PUMA'), 5, 'synonym, case-insensitive');
  assert.equal(resolveTarget(PETS, 'tiger'), 4, 'exact beats the whole-word match in "tiger cat"');
  assert.equal(resolveTarget(PETS, 'egyptian'), 3, 'whole word');
  assert.equal(resolveTarget(PETS, 'sled'), 7, 'whole word');
  assert.equal(resolveTarget(PETS, 'persi'), 2, 'substring');
  assert.equal(resolveTarget(PETS, 'tiger_cat'), 1, 'underscores read as spaces');
  assert.equal(resolveTarget(IMAGENET_CLASSES, 'egyptian cat'), 285);
});

test('ambiguous and unknown labels are errors listing candidates with indices', () => {
  badInput(() => resolveTarget(PETS, 'cat'), 'target', /"cat" matches 4 classes as a whole word: 0 tabby, tabby cat; 1 tiger cat; 2 Persian cat; 3 Egyptian cat/);
  badInput(() => resolveTarget(PETS, 'dog'), 'target', /matches 2 classes as a whole word: 6 hot dog; 7 dog sled/);
  badInput(() => resolveTarget(PETS, 'ta'), 'target', /matches \d+ classes as a substring/);
  badInput(() => resolveTarget(PETS, 'tigre'), 'target', /no class matches "tigre"; closest: 4 tiger/);
  badInput(() => resolveTarget(PETS, '  '), 'target', /empty class name/);
  // Long candidate lists are cut.
  badInput(() => resolveTarget(IMAGENET_CLASSES, 'terrier'), 'target', /and \d+ more \(give the index/);
});
