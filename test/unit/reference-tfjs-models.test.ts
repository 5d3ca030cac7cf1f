import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { testBackend } from '../helpers/backend';
import { compareWithReference } from '../helpers/reference';
import { LoadedModel } from '../../src/engine/model';

const FIXTURES = join(__dirname, '..', 'fixtures');

// Each fixture is a TF.js model written by scripts/fixtures/make_reference.py from a PyTorch network, with that
// network's logits and vanilla/guided input gradients (an independent implementation of the same maths).
for (const name of ['layers-functional', 'layers-sequential', 'graph-model']) {
  test(`${name}: logits and vanilla/guided maps match PyTorch`, async (t) => {
    await testBackend();
    const dir = join(FIXTURES, name);
    const model = await LoadedModel.load(join(dir, 'model.json'));
    try {
      const r = await compareWithReference(model, dir, ['vanilla', 'guided']);
      t.diagnostic(`${name}: logits rel. error ${r.logitsRelError.toExponential(2)}, cosine vanilla ${r.cosines.vanilla?.toFixed(6)}, guided ${r.cosines.guided?.toFixed(6)}`);
      assert.ok(r.logitsRelError < 1e-4, `logits rel. error ${r.logitsRelError}`);
      assert.ok(r.cosines.vanilla! >= 0.999, `vanilla cosine ${r.cosines.vanilla}`);
      assert.ok(r.cosines.guided! >= 0.999, `guided cosine ${r.cosines.guided}`);
    } finally {
      model.dispose();
    }
  });
}
