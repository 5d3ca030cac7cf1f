import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCli } from '../helpers/cli';
import { decodeNpy } from '../../src/shared/npy';

const MODEL = join(__dirname, '..', 'fixtures', 'layers-functional', 'model.json');
const work = mkdtempSync(join(tmpdir(), 'sl-cli-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

async function photo(name: string, width: number, height: number): Promise<string> {
  const path = join(work, name);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(path);
  return path;
}

/** A bad-input failure: exit code 2 and exactly one line on stderr that names `subject`. */
function assertBadInput(r: ReturnType<typeof runCli>, subject: string, problem: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.ok(lines[0].includes(subject), `"${lines[0]}" should name ${subject}`);
  assert.match(lines[0], problem);
  assert.doesNotMatch(r.stderr, /\s+at\s.+\(.+:\d+:\d+\)/, 'no stack trace');
}

test('--help states the commands and the default preprocessing', () => {
  const r = runCli(['--help']);
  assert.equal(r.status, 0);
  for (const word of ['predict', 'explain', 'layers', '--raw', 'default: the model\'s saliency-lens.json, else unit']) assert.ok(r.stdout.includes(word), word);
});

test('explain --json follows the contract and --raw writes float32 [H, W, C]', async () => {
  const image = await photo('p.png', 64, 40);
  const raw = join(work, 'out', 'g.npy');
  const r = runCli(['explain', image, '--model', MODEL, '--method', 'guided', '--target', '3', '--out', join(work, 'out'), '--raw', raw, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.backend, 'cpu');
  assert.deepEqual(Object.keys(j.model).slice(0, 4), ['path', 'format', 'inputShape', 'layout']);
  assert.equal(j.model.format, 'tfjs-layers');
  assert.deepEqual(j.model.inputShape, [-1, 32, 32, 3]);
  assert.equal(j.preprocess.preset, 'unit');
  assert.equal(j.preprocess.source, 'default');
  assert.equal(j.predictions.length, 5);
  assert.ok(Math.abs(j.predictions.reduce((a: number, p: { probability: number }) => a + p.probability, 0)) <= 1.0001);
  assert.deepEqual(j.target, { index: 3, label: 'class 3' });
  assert.equal(j.method, 'guided');
  for (const k of ['load', 'inference', 'attribution']) assert.equal(typeof j.timingMs[k], 'number');
  assert.equal(j.outputs.length, 5);
  const npy = decodeNpy(readFileSync(raw));
  assert.deepEqual([...npy.shape], [32, 32, 3]);
  const png = await sharp(j.outputs[3]).metadata();
  assert.equal(png.width! > 32 * 3, true, 'the combined figure holds three panels');
});

test('CAM --raw is the [h, w] map at layer resolution and --json names the layer', async () => {
  const image = await photo('c.png', 32, 32);
  const raw = join(work, 'cam.npy');
  const r = runCli(['explain', image, '--model', MODEL, '--method', 'gradcam', '--out', join(work, 'out'), '--raw', raw, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(typeof j.layer, 'string');
  const npy = decodeNpy(readFileSync(raw));
  assert.equal(npy.shape.length, 2);
  assert.ok(npy.shape[0] < 32);
  assert.ok(Array.from(npy.data).every((v) => v >= 0), 'raw CAM is after the ReLU');
});

test('bad input: one line naming the file or option, exit code 2', async () => {
  const image = await photo('ok.png', 32, 32);
  assertBadInput(runCli(['predict', join(work, 'missing.png'), '--model', MODEL]), 'missing.png', /not found/);
  const garbage = join(work, 'garbage.png');
  writeFileSync(garbage, 'this is not an image');
  assertBadInput(runCli(['predict', garbage, '--model', MODEL]), 'garbage.png', /image/);
  assertBadInput(runCli(['predict', image, '--model', join(work, 'nope.json')]), 'nope.json', /not found|no such/i);
  assertBadInput(runCli(['explain', image, '--model', MODEL, '--method', 'magic']), '--method', /unknown method/);
  assertBadInput(runCli(['explain', image, '--model', MODEL, '--target', 'zebra']), 'target', /zebra/);
  assertBadInput(runCli(['explain', image, '--model', MODEL, '--target', '99']), 'target', /out of range/);
  assertBadInput(runCli(['explain', image, '--model', MODEL, '--preprocess', 'fancy']), '--preprocess', /fancy/);
  assertBadInput(runCli(['explain', image, '--model', MODEL, '--method', 'gradcam', '--layer', 'no_such_layer']), '--layer', /no_such_layer/);
  assertBadInput(runCli(['explain', image, '--model', MODEL, '--bogus']), 'saliency-lens', /bogus/);
  assertBadInput(runCli(['frobnicate']), 'frobnicate', /unknown command/);
});

test('a model with an unsupported layer is refused in one line naming the layer', async () => {
  const dir = join(work, 'weird');
  mkdirSync(dir, { recursive: true });
  const json = JSON.parse(readFileSync(MODEL, 'utf8'));
  const layers = json.modelTopology.config.layers;
  layers[1].class_name = 'QuantumConv2D';
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), readFileSync(join(MODEL, '..', 'group1-shard1of1.bin')));
  const image = await photo('w.png', 32, 32);
  assertBadInput(runCli(['predict', image, '--model', join(dir, 'model.json')]), 'model.json', /QuantumConv2D/);
});

test('a weights manifest path that escapes the model folder is refused', async () => {
  const dir = join(work, 'escape');
  mkdirSync(dir, { recursive: true });
  const json = JSON.parse(readFileSync(MODEL, 'utf8'));
  json.weightsManifest[0].paths = ['../../etc/passwd'];
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  const image = await photo('e.png', 32, 32);
  assertBadInput(runCli(['predict', image, '--model', join(dir, 'model.json')]), 'model.json', /outside|escap/i);
});
