import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testBackend } from '../helpers/backend';
import { compareWithReference, cosine, readNpy } from '../helpers/reference';
import { DARKNET_MODEL, REPO_ROOT, SHARED_DIR, SKIP_WITHOUT_SHARED } from '../helpers/shared';
import { LoadedModel } from '../../src/engine/model';

const CLI = join(REPO_ROOT, 'dist', 'cli.js');
const CHELSEA = join(SHARED_DIR, 'images', 'chelsea.png');
const REFERENCE = join(REPO_ROOT, 'test', 'fixtures', 'darknet-reference');

test('darknet-tiny: predict on chelsea.png puts Egyptian cat, tabby and tiger cat in the top 3', { skip: SKIP_WITHOUT_SHARED }, () => {
  const out = execFileSync(process.execPath, [CLI, 'predict', CHELSEA, '--model', DARKNET_MODEL, '--json'], { encoding: 'utf8' });
  const result = JSON.parse(out) as { backend: string; predictions: Array<{ label: string; probability: number }> };
  const top3 = result.predictions.slice(0, 3).map((p) => p.label).sort();
  assert.deepEqual(top3, ['Egyptian cat', 'tabby', 'tiger cat']);
  assert.ok(['node', 'wasm', 'cpu'].includes(result.backend));
});

test('darknet-tiny: vanilla and guided maps match the independent PyTorch implementation', { skip: SKIP_WITHOUT_SHARED }, async (t) => {
  await testBackend();
  const model = await LoadedModel.load(DARKNET_MODEL);
  try {
    const r = await compareWithReference(model, REFERENCE, ['vanilla', 'guided']);
    t.diagnostic(`darknet-tiny: logits rel. error ${r.logitsRelError.toExponential(2)}, cosine vanilla ${r.cosines.vanilla?.toFixed(6)}, guided ${r.cosines.guided?.toFixed(6)}`);
    assert.ok(r.logitsRelError < 1e-4);
    assert.ok(r.cosines.vanilla! >= 0.999, `vanilla cosine ${r.cosines.vanilla}`);
    assert.ok(r.cosines.guided! >= 0.999, `guided cosine ${r.cosines.guided}`);
  } finally {
    model.dispose();
  }
});

test('darknet-tiny: the CLI writes the raw [H,W,C] map, the three panels and the figure', { skip: SKIP_WITHOUT_SHARED }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sl-darknet-'));
  try {
    const raw = join(dir, 'g.npy');
    const out = execFileSync(process.execPath, [CLI, 'explain', CHELSEA, '--model', DARKNET_MODEL, '--method', 'guided',
      '--target', 'tabby', '--out', dir, '--raw', raw, '--json'], { encoding: 'utf8' });
    const result = JSON.parse(out) as { target: { index: number; label: string }; method: string; outputs: string[]; timingMs: Record<string, number> };
    assert.equal(result.target.label, 'tabby');
    assert.equal(result.method, 'guided');
    assert.equal(result.outputs.length, 5);
    const map = readNpy(raw);
    assert.deepEqual(map.shape, [224, 224, 3]);
    // PIL and sharp resample chelsea.png slightly differently, so this is reported rather than asserted.
    const ref = readNpy(join(REFERENCE, 'guided.npy'));
    t.diagnostic(`CLI guided map (target tabby) vs reference (Egyptian cat) on independently resized inputs: cosine ${cosine(map.data, ref.data).toFixed(4)}`);
    assert.ok(map.data.some((v) => v !== 0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
