/**
 * ONNX importer against PyTorch on the committed small networks (test/fixtures/onnx, made by
 * scripts/fixtures/make_onnx_fixtures.py): logits to 1e-4 relative, vanilla and guided input gradients with
 * cosine ≥ 0.999, and per-sample results independent of the batch size.
 */
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { disposeGraph } from '../../src/engine/graph/ir';
import { importOnnxModel } from '../../src/engine/importers/onnx';
import { testBackend } from '../helpers/backend';
import { cosine, logitsAndGradient, maxRelError, predict, readNpy } from './onnx-support';
import type { ManifestEntry } from './onnx-support';

const DIR = join(__dirname, '..', 'fixtures', 'onnx');


const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { models: ManifestEntry[] };

before(async () => {
  await testBackend();
});

for (const entry of manifest.models) {
  describe(`ONNX ${entry.name}`, () => {
    const input = readNpy(join(DIR, `${entry.name}.input.npy`));
    const logitsRef = readNpy(join(DIR, `${entry.name}.logits.npy`)).data;
    const vanillaRef = readNpy(join(DIR, `${entry.name}.vanilla.npy`)).data;
    const guidedRef = readNpy(join(DIR, `${entry.name}.guided.npy`)).data;

    for (const opset of entry.opsets) {
      it(`opset ${opset}: logits and vanilla/guided gradients match PyTorch`, async (t) => {
        const graph = await importOnnxModel(join(DIR, `${entry.name}.opset${opset}.onnx`));
        try {
          assert.equal(graph.input.sourceLayout, 'NCHW');
          assert.deepEqual([graph.input.height, graph.input.width, graph.input.channels], entry.inputShape);
          const vanilla = logitsAndGradient(graph, input, entry.target, false);
          const guided = logitsAndGradient(graph, input, entry.target, true);
          const rel = maxRelError(vanilla.logits, logitsRef);
          const cosVanilla = cosine(vanilla.grad, vanillaRef);
          const cosGuided = cosine(guided.grad, guidedRef);
          t.diagnostic(`max rel logit error ${rel.toExponential(2)}, 1 - cosine vanilla ${(1 - cosVanilla).toExponential(2)}, `
            + `guided ${(1 - cosGuided).toExponential(2)}`);
          assert.ok(rel <= 1e-4, `logits differ: max relative error ${rel}`);
          assert.ok(cosVanilla >= 0.999, `vanilla cosine ${cosVanilla}`);
          assert.ok(cosGuided >= 0.999, `guided cosine ${cosGuided}`);
          // Guided backprop must actually differ from the vanilla gradient on these nets.
          assert.ok(cosine(guided.grad, vanilla.grad) < 0.999, 'guided map equals the vanilla map');
        } finally {
          disposeGraph(graph);
        }
      });
    }

    it('gives each sample of a batch the result it gets alone', async () => {
      const graph = await importOnnxModel(join(DIR, `${entry.name}.opset${entry.opsets[entry.opsets.length - 1]}.onnx`));
      try {
        const [h, w, c] = entry.inputShape;
        const other = Float32Array.from(input.data, (v, i) => v * 0.5 + Math.sin(i));
        const both = tf.tensor4d([...input.data, ...other], [2, h, w, c]);
        const batched = predict(graph, both);
        const single = tf.tensor4d(other, [1, h, w, c]);
        const alone = predict(graph, single);
        both.dispose();
        single.dispose();
        const k = logitsRef.length;
        assert.deepEqual(batched.shape, [2, k]);
        assert.ok(maxRelError(batched.data.subarray(0, k), logitsRef) <= 1e-4);
        assert.ok(maxRelError(batched.data.subarray(k), alone.data) <= 1e-4);
      } finally {
        disposeGraph(graph);
      }
    });
  });
}
