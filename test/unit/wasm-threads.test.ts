// The threaded wasm build starts in Node (pthread workers from files) and computes the same gradients as the
// single-threaded build; the CLI reports its threads and still exits by itself with nothing on stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli';
import { decodeNpy } from '../../src/shared/npy';
import { automaticKernelWorkers, automaticWasmThreads } from '../../src/engine/backend';

const MODEL = join(__dirname, '..', 'fixtures', 'layers-functional', 'model.json');
const work = mkdtempSync(join(tmpdir(), 'sl-threads-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function explain(threads: number, kernelThreads = 'auto'): { json: { backend: string; threads: number; kernelThreads: number }; grad: Float32Array } {
  const raw = join(work, `t${threads}-${kernelThreads}.npy`);
  const r = runCli(['explain', '--model', MODEL, '--method', 'vanilla', '--target', '2', '--out', work, '--raw', raw, '--json', '--threads', String(threads),
    '--kernel-threads', kernelThreads], { SALIENCY_LENS_BACKEND: 'wasm' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'nothing on stderr');
  return { json: JSON.parse(r.stdout), grad: decodeNpy(readFileSync(raw)).data as Float32Array };
}

const threadsAvailable = typeof SharedArrayBuffer !== 'undefined';

test('threaded wasm starts, reports its threads and matches the single-threaded gradient', { skip: threadsAvailable ? false : 'no SharedArrayBuffer in this Node: threads cannot run' }, () => {
  const one = explain(1);
  const two = explain(2);
  assert.equal(one.json.backend, 'wasm');
  assert.equal(one.json.threads, 1);
  assert.equal(two.json.backend, 'wasm');
  assert.equal(two.json.threads, 2, 'the threaded build started (else it fell back to 1 thread)');
  assert.equal(two.grad.length, one.grad.length);
  const scale = Math.max(...one.grad.map(Math.abs));
  assert.ok(scale > 0, 'a non-trivial gradient');
  for (let i = 0; i < one.grad.length; i++) assert.ok(Math.abs(two.grad[i] - one.grad[i]) <= 1e-5 * scale, `element ${i}: ${two.grad[i]} vs ${one.grad[i]}`);
});

test('--kernel-threads: reported in --json, the same gradient with and without, and a bad count is one line', { skip: threadsAvailable ? false : 'no SharedArrayBuffer in this Node: threads cannot run' }, () => {
  const off = explain(1, '0');
  const on = explain(1, '1');
  assert.equal(off.json.kernelThreads, 0);
  assert.equal(on.json.kernelThreads, 1, 'the threaded build started with a kernel thread');
  assert.deepEqual(on.grad, off.grad, 'our kernels choose the same algorithms with and without it');
  const r = runCli(['predict', '--model', MODEL, '--kernel-threads', '2'], { SALIENCY_LENS_BACKEND: 'wasm' });
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /--kernel-threads.*from 0 to 1/);
});

test('automatic kernel threads: one when the wasm threads leave a core free and are at most 2', () => {
  assert.deepEqual([[1, 1], [2, 1], [2, 2], [4, 2], [8, 4], [16, 3]].map(([c, t]) => automaticKernelWorkers(c, t)), [0, 1, 0, 1, 0, 0]);
});

test('--threads rejects a count the build cannot run', () => {
  const r = runCli(['predict', '--model', MODEL, '--threads', '9'], { SALIENCY_LENS_BACKEND: 'wasm' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--threads.*from 1 to 8/);
});

test('automatic wasm threads without gradient helpers: half the cores, at least 2 (when there are 2) and at most 4', () => {
  assert.deepEqual([1, 2, 3, 4, 6, 8, 16, 64].map((c) => automaticWasmThreads(c)), [1, 2, 2, 2, 3, 4, 4, 4]);
});
