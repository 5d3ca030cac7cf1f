import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from '../helpers/cli';

const MODEL = join(__dirname, '..', 'fixtures', 'layers-functional', 'model.json');

test('bench --method activation-maximization times one filter picture and reports its steps', () => {
  const r = runCli(['bench', '--model', MODEL, '--method', 'activation-maximization', '--layer', 're_lu_2', '--steps', '3', '--runs', '2', '--warmup', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.method, 'activation-maximization');
  assert.equal(j.layer, 're_lu_2');
  assert.equal(j.steps, 3);
  assert.deepEqual(j.size, [32, 32]);
  assert.equal(j.runs, 2);
  assert.ok(j.perStepMs > 0 && j.perStepMs < j.medianMs, `per step ${j.perStepMs} ms, picture ${j.medianMs} ms`);
  assert.ok(j.minMs <= j.medianMs && j.medianMs <= j.maxMs);
});

test('bench --method deep-dream counts the steps of every octave', () => {
  const r = runCli(['bench', '--model', MODEL, '--method', 'deep-dream', '--layer', 're_lu_2', '--steps', '2', '--octaves', '2', '--runs', '1', '--warmup', '0', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.method, 'deep-dream');
  assert.equal(j.steps, 4);
  assert.ok(j.perStepMs > 0);
});

test('bench of a feature visualisation without --layer is a one-line bad-input error', () => {
  const r = runCli(['bench', '--model', MODEL, '--method', 'deep-dream', '--json']);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /--layer: is required for deep-dream/);
});
