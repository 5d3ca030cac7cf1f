import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadGraphFromFile } from '../../src/engine/importers/index';
import { isBadInput } from '../../src/shared/errors';
import { classifyModelJson, sniffModelJson } from '../../src/shared/modelSniff';
import { testBackend } from '../helpers/backend';
import { tempDir } from '../helpers/tfjsModels';

const tmp = tempDir();
before(async () => {
  await testBackend();
});
after(() => tmp.cleanup());

const layersJson = { modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [] }, keras_version: 'tfjs-layers 4.22.0' }, format: 'layers-model', weightsManifest: [] };
const keras2Json = { modelTopology: { keras_version: '2.1.6', model_config: { class_name: 'Model', config: { layers: [] } } }, weightsManifest: [] };
const keras2List = { modelTopology: { keras_version: '2.1.6', model_config: { class_name: 'Sequential', config: [] } }, weightsManifest: [] };
const graphJson = { format: 'graph-model', modelTopology: { node: [{ name: 'x', op: 'Placeholder' }] }, weightsManifest: [] };

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isBadInput(err), `expected BadInputError, got ${String(err)}`);
    assert.match((err as Error).message, pattern);
    assert.ok(!(err as Error).message.includes('\n'), 'one line');
    return true;
  });
}

describe('sniffModelJson', () => {
  it('recognises layers and graph models in their usual layouts', () => {
    assert.equal(sniffModelJson(JSON.stringify(layersJson)), 'tfjs-layers');
    assert.equal(sniffModelJson(JSON.stringify(keras2Json)), 'tfjs-layers');
    assert.equal(sniffModelJson(JSON.stringify(keras2List)), 'tfjs-layers');
    assert.equal(sniffModelJson(JSON.stringify(graphJson)), 'tfjs-graph');
    assert.equal(sniffModelJson(JSON.stringify({ modelTopology: { node: [] } })), 'tfjs-graph');
  });

  it('says null for other JSON, broken JSON and half-models', () => {
    for (const text of [
      '{"name": "pkg", "version": "1.0.0"}', '["cat", "dog"]', '{"modelTopology": ', 'not json at all', '',
      JSON.stringify({ modelTopology: 'nope' }),
      JSON.stringify({ modelTopology: { class_name: 'Sequential' } }),
      JSON.stringify({ format: 'graph-model', modelTopology: { class_name: 'X', config: { layers: [] } } }),
      JSON.stringify({ ...layersJson, weightsManifest: { paths: [] } }),
      JSON.stringify({ ...layersJson, format: 'something-else' }),
    ]) {
      assert.equal(sniffModelJson(text), null, text);
    }
    assert.equal(classifyModelJson(null), null);
  });
});

describe('loadGraphFromFile', () => {
  it('reports a missing file, a directory and a wrong extension in one line', async () => {
    await rejectsWith(loadGraphFromFile(join(tmp.dir, 'absent', 'model.json')), /absent\/model\.json: model file not found/);
    await rejectsWith(loadGraphFromFile(join(tmp.dir, 'absent.onnx')), /absent\.onnx: model file not found/);
    mkdirSync(join(tmp.dir, 'folder.json'));
    await rejectsWith(loadGraphFromFile(join(tmp.dir, 'folder.json')), /folder\.json: is a directory, not a model file$/);
    mkdirSync(join(tmp.dir, 'withmodel'));
    writeFileSync(join(tmp.dir, 'withmodel', 'model.json'), '{}');
    await rejectsWith(loadGraphFromFile(join(tmp.dir, 'withmodel')), /withmodel: is a directory, not a model file; did you mean .*withmodel\/model\.json\?/);
    writeFileSync(join(tmp.dir, 'weights.h5'), 'HDF');
    await rejectsWith(loadGraphFromFile(join(tmp.dir, 'weights.h5')), /weights\.h5: not a TF\.js model\.json or \.onnx file/);
  });

  it('reports bad JSON and JSON that is not a model', async () => {
    writeFileSync(join(tmp.dir, 'broken.json'), '{"modelTopology": {');
    await rejectsWith(loadGraphFromFile(join(tmp.dir, 'broken.json')), /broken\.json: not valid JSON \(/);
    writeFileSync(join(tmp.dir, 'package.json'), '{"name": "x"}');
    await rejectsWith(loadGraphFromFile(join(tmp.dir, 'package.json')), /package\.json: not a TF\.js model\.json/);
  });

  it('dispatches graph and layers model.json files to their importers', async () => {
    const g = join(tmp.dir, 'g.json');
    writeFileSync(g, JSON.stringify({ format: 'graph-model', modelTopology: { node: [{ name: 'y', op: 'Relu', input: ['x'] }] } }));
    await rejectsWith(loadGraphFromFile(g), /g\.json: node "x" is referenced but not defined/);
    const l = join(tmp.dir, 'l.json');
    writeFileSync(l, JSON.stringify({ modelTopology: { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { name: 'd', units: 2, batch_input_shape: [null, 3] } }] } } }));
    await rejectsWith(loadGraphFromFile(l), /l\.json: weight "kernel" of layer "d" \(Dense\) is not in the weights manifest/);
  });
});
