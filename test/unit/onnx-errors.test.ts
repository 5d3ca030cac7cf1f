/**
 * ONNX importer: bad files give one-line BadInputErrors naming the file (unsupported ops with type, node and
 * opset; external data outside the model's folder; truncated or corrupt files), and external data inside the
 * folder loads.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBadInput } from '../../src/shared/errors';
import { disposeGraph } from '../../src/engine/graph/ir';
import { importOnnxModel } from '../../src/engine/importers/onnx';
import { testBackend } from '../helpers/backend';
import * as tf from '@tensorflow/tfjs-core';
import { maxRelError, onnxModel, onnxNode, predict, rawTensor, seededValues, valueInfo } from './onnx-support';

const WEIGHTS = seededValues(2 * 3 * 3 * 3, 11);

/** x [1,3,4,4] → Conv(w [2,3,3,3]) → GlobalAveragePool → Flatten → y [1,2]; `w` is given as an initializer. */
function convModel(w: Record<string, unknown>): Uint8Array {
  return onnxModel([
    onnxNode('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv'),
    onnxNode('GlobalAveragePool', ['c'], ['p'], {}, 'pool'),
    onnxNode('Flatten', ['p'], ['y'], {}, 'flatten'),
  ], [w], valueInfo('x', [1, 3, 4, 4]), valueInfo('y', [1, 2]));
}

const folders: string[] = [];

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-test-'));
  folders.push(dir);
  return dir;
}

function write(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Asserts that importing `path` fails with a one-line BadInputError about it, matching `pattern`. */
async function rejects(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(importOnnxModel(path), (err: unknown) => {
    assert.ok(isBadInput(err), `expected BadInputError, got ${String(err)}`);
    const message = (err as Error).message;
    assert.ok(message.startsWith(`${path}: `), message);
    assert.ok(!message.includes('\n'), 'the message must be one line');
    assert.match(message, pattern);
    return true;
  });
}

async function outputOf(path: string): Promise<Float32Array> {
  const graph = await importOnnxModel(path);
  try {
    const x = tf.tensor4d(seededValues(48, 5), [1, 4, 4, 3]);
    const y = predict(graph, x).data;
    x.dispose();
    return y;
  } finally {
    disposeGraph(graph);
  }
}

before(async () => {
  await testBackend();
});

after(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('ONNX unsupported ops', () => {
  it('names the op type, the node and the opset', async () => {
    const bytes = onnxModel([
      onnxNode('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3] }, 'conv'),
      onnxNode('NonMaxSuppression', ['c'], ['c2'], {}, 'mystery_node'),
      onnxNode('GlobalAveragePool', ['c2'], ['y'], {}, 'pool'),
    ], [rawTensor('w', [2, 3, 3, 3], WEIGHTS)], valueInfo('x', [1, 3, 4, 4]), valueInfo('y', [1, 2, 1, 1]), 15);
    await rejects(write(folder(), 'm.onnx', bytes), /\.onnx: unsupported ONNX op NonMaxSuppression \(node "mystery_node", opset 15\)$/);
  });

  it('uses the output name for unnamed nodes and names custom domains', async () => {
    const dir = folder();
    const bytes = onnxModel([
      { ...onnxNode('FusedConv', ['x', 'w'], ['fused_out']), domain: 'com.microsoft' },
      onnxNode('GlobalAveragePool', ['fused_out'], ['y'], {}, 'pool'),
    ], [rawTensor('w', [2, 3, 3, 3], WEIGHTS)], valueInfo('x', [1, 3, 4, 4]), valueInfo('y', [1, 2, 1, 1]));
    await rejects(write(dir, 'm.onnx', bytes), /: unsupported ONNX op com\.microsoft\.FusedConv \(node "fused_out", opset 13\)$/);
  });

  it('reports an unsupported attribute value with the node', async () => {
    const dir = folder();
    const bytes = onnxModel([
      onnxNode('Resize', ['x', '', 'scales'], ['r'], { mode: 'cubic', coordinate_transformation_mode: 'tf_crop_and_resize' }, 'upsample'),
      onnxNode('GlobalAveragePool', ['r'], ['y'], {}, 'pool'),
    ], [rawTensor('scales', [4], [1, 1, 2, 2])], valueInfo('x', [1, 3, 4, 4]), valueInfo('y', [1, 3, 1, 1]));
    await rejects(write(dir, 'm.onnx', bytes), /node "upsample" \(Resize, opset 13\): cubic resizing with coordinate_transformation_mode "tf_crop_and_resize" is not supported/);
  });
});

describe('ONNX corrupt files', () => {
  const valid = convModel(rawTensor('w', [2, 3, 3, 3], WEIGHTS));

  it('refuses a truncated file', async () => {
    await rejects(write(folder(), 'cut.onnx', valid.subarray(0, Math.floor(valid.length * 0.6))), /not a valid ONNX model/);
  });

  it('refuses garbage and empty files', async () => {
    const garbage = Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 0xff);
    await rejects(write(folder(), 'garbage.onnx', garbage), /not a valid ONNX model/);
    await rejects(write(folder(), 'empty.onnx', new Uint8Array(0)), /not a valid ONNX model/);
  });

  it('says when the file does not exist', async () => {
    await rejects(join(folder(), 'missing.onnx'), /file not found/);
  });

  it('checks initializer sizes against their shapes', async () => {
    await rejects(write(folder(), 'short.onnx', convModel(rawTensor('w', [2, 3, 3, 3], WEIGHTS.subarray(0, 50)))),
      /tensor w holds 200 bytes but its shape \[2, 3, 3, 3\] needs 216/);
  });
});

describe('ONNX external data', () => {
  const bytes = new Uint8Array(WEIGHTS.buffer.slice(0));
  const external = (location: string, offset = 0, length = bytes.length) => ({
    name: 'w', dims: [2, 3, 3, 3], dataType: 1, dataLocation: 1,
    externalData: [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(length) }],
  });

  it('reads tensors from a file in the model folder (with an offset)', async () => {
    const dir = folder();
    mkdirSync(join(dir, 'data'));
    const padded = new Uint8Array(4096 + bytes.length);
    padded.set(bytes, 4096);
    writeFileSync(join(dir, 'data', 'weights.bin'), padded);
    const embedded = await outputOf(write(dir, 'embedded.onnx', convModel(rawTensor('w', [2, 3, 3, 3], WEIGHTS))));
    const fromFile = await outputOf(write(dir, 'external.onnx', convModel(external('data/weights.bin', 4096))));
    assert.ok(maxRelError(fromFile, embedded) === 0, 'external data differs from the embedded weights');
  });

  it('refuses locations that escape the model folder', async () => {
    const root = folder();
    const dir = join(root, 'model');
    mkdirSync(dir);
    writeFileSync(join(root, 'outside.bin'), bytes);
    symlinkSync(join(root, 'outside.bin'), join(dir, 'link.bin'));
    await rejects(write(dir, 'up.onnx', convModel(external('../outside.bin'))), /escapes the model's folder; refused/);
    await rejects(write(dir, 'link.onnx', convModel(external('link.bin'))), /escapes the model's folder; refused/);
    await rejects(write(dir, 'abs.onnx', convModel(external(join(root, 'outside.bin')))), /only paths relative to the model's folder/);
  });

  it('checks the file, offset and length', async () => {
    const dir = folder();
    writeFileSync(join(dir, 'w.bin'), bytes);
    await rejects(write(dir, 'missing.onnx', convModel(external('nope.bin'))), /external data "nope.bin" of tensor w: file not found/);
    await rejects(write(dir, 'offset.onnx', convModel(external('w.bin', 100))), /exceeds the file size 216/);
    await rejects(write(dir, 'length.onnx', convModel(external('w.bin', 0, 100))), /holds 100 bytes but its shape/);
  });
});

describe('ONNX tensor bookkeeping', () => {
  it('leaves no tensors behind after import, runs and dispose, nor after a failed import', async () => {
    const dir = folder();
    const good = write(dir, 'good.onnx', convModel(rawTensor('w', [2, 3, 3, 3], WEIGHTS)));
    await outputOf(good); // warm up kernels and backend caches
    const before = tf.memory().numTensors;
    await outputOf(good);
    await rejects(write(dir, 'bad.onnx', convModel(rawTensor('w', [2, 3, 3, 3], WEIGHTS.subarray(0, 7)))), /holds/);
    assert.equal(tf.memory().numTensors, before);
  });
});
