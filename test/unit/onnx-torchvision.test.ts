/**
 * ONNX importer on torchvision classifiers (AlexNet, VGG-11, ResNet-18, DenseNet-121, MobileNetV2,
 * SqueezeNet 1.1, EfficientNet-B0, ShuffleNetV2 x0.5, ConvNeXt-Tiny; random seeded weights) exported at opsets
 * 13 and 17: logits match PyTorch to 1e-4 relative and vanilla/guided input gradients have cosine ≥ 0.999.
 *
 * The models are too big to commit: `/usr/bin/python3 scripts/fixtures/make_onnx_fixtures.py --big-only` writes
 * them to test/fixtures/generated/onnx/ (gitignored). Without that folder these tests are skipped. To keep the
 * suite within minutes they run on wasm (unless SALIENCY_LENS_BACKEND says otherwise) and, by default, only on
 * ResNet-18, MobileNetV2, SqueezeNet 1.1 and ShuffleNetV2 x0.5: SALIENCY_LENS_ONNX_MODELS=all (or a comma-separated
 * list) for more.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { disposeGraph } from '../../src/engine/graph/ir';
import { importOnnxModel } from '../../src/engine/importers/onnx';
import { initBackend } from '../../src/engine/backend';
import { testBackend } from '../helpers/backend';
import { cosine, logitsAndGradient, maxRelError, readNpy } from './onnx-support';
import type { ManifestEntry } from './onnx-support';

const DIR = join(__dirname, '..', 'fixtures', 'generated', 'onnx');
const MANIFEST = join(DIR, 'manifest.json');


const present = existsSync(MANIFEST);
const DEFAULT_MODELS = ['resnet18', 'mobilenet_v2', 'squeezenet1_1', 'shufflenet_v2_x0_5'];
const selection = process.env.SALIENCY_LENS_ONNX_MODELS ?? '';
const wanted = selection === 'all' ? null : selection ? selection.split(',') : DEFAULT_MODELS;
const entries = present
  ? (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { models: ManifestEntry[] }).models
    .filter((e) => wanted === null || wanted.includes(e.name))
  : [];

before(async () => {
  // The cpu backend needs minutes per model: wasm unless a backend is asked for.
  if (process.env.SALIENCY_LENS_BACKEND) await testBackend();
  else await initBackend('wasm');
});

describe('ONNX torchvision classifiers', () => {
  if (!present) {
    it('needs the generated models', { skip: `no ${MANIFEST}: run /usr/bin/python3 scripts/fixtures/make_onnx_fixtures.py --big-only` }, () => {});
    return;
  }
  for (const entry of entries) {
    for (const opset of entry.opsets) {
      const file = join(DIR, `${entry.name}.opset${opset}.onnx`);
      it(`${entry.name} opset ${opset} matches PyTorch`, { skip: existsSync(file) ? false : `${file} missing` }, async (t) => {
        const input = readNpy(join(DIR, `${entry.name}.input.npy`));
        const graph = await importOnnxModel(file);
        try {
          assert.deepEqual([graph.input.height, graph.input.width, graph.input.channels], entry.inputShape);
          const vanilla = logitsAndGradient(graph, input, entry.target, false);
          const guided = logitsAndGradient(graph, input, entry.target, true);
          const rel = maxRelError(vanilla.logits, readNpy(join(DIR, `${entry.name}.logits.npy`)).data);
          const cosVanilla = cosine(vanilla.grad, readNpy(join(DIR, `${entry.name}.vanilla.npy`)).data);
          const cosGuided = cosine(guided.grad, readNpy(join(DIR, `${entry.name}.guided.npy`)).data);
          t.diagnostic(`${entry.name} opset ${opset}: max rel logit error ${rel.toExponential(2)}, `
            + `1 - cosine vanilla ${(1 - cosVanilla).toExponential(2)}, guided ${(1 - cosGuided).toExponential(2)}`);
          assert.ok(rel <= 1e-4, `logits differ: max relative error ${rel}`);
          assert.ok(cosVanilla >= 0.999, `vanilla cosine ${cosVanilla}`);
          assert.ok(cosGuided >= 0.999, `guided cosine ${cosGuided}`);
        } finally {
          disposeGraph(graph);
        }
      });
    }
  }
});
