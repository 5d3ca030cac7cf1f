import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeFloat16, loadWeights } from '../../src/engine/importers/weights';
import { isBadInput } from '../../src/shared/errors';
import { testBackend } from '../helpers/backend';
import { tempDir } from '../helpers/tfjsModels';

const tmp = tempDir();
const modelJson = join(tmp.dir, 'model', 'model.json');

function bytes(...arrays: ArrayBufferView[]): Buffer {
  return Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}

/** Asserts a BadInputError whose one-line message matches. */
async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isBadInput(err), `expected BadInputError, got ${String(err)}`);
    assert.match((err as Error).message, pattern);
    assert.ok(!(err as Error).message.includes('\n'));
    return true;
  });
}

before(async () => {
  await testBackend();
  mkdirSync(join(tmp.dir, 'model'));
});
after(() => tmp.cleanup());

describe('decodeFloat16', () => {
  it('decodes normal, subnormal, signed zero, infinities and NaN', () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00]);
    const out = decodeFloat16(bits);
    assert.equal(out[0], 1);
    assert.equal(out[1], -2);
    assert.ok(Math.abs(out[2] - 0.333251953125) < 1e-9);
    assert.equal(out[3], 65504);
    assert.equal(out[4], 2 ** -24);
    assert.ok(Object.is(out[5], -0));
    assert.equal(out[6], Infinity);
    assert.equal(out[7], -Infinity);
    assert.ok(Number.isNaN(out[8]));
  });
});

describe('loadWeights', () => {
  it('reads float32, int32 and bool weights spread over two shards', async () => {
    const a = new Float32Array([1.5, -2, 3.25, 4, 5, 6]);
    const b = new Int32Array([7, -8]);
    const c = new Uint8Array([1, 0, 1]);
    const all = bytes(a, b, c);
    writeFileSync(join(tmp.dir, 'model', 'g1-shard1of2'), all.subarray(0, 10));
    writeFileSync(join(tmp.dir, 'model', 'g1-shard2of2'), all.subarray(10));
    const manifest = [{
      paths: ['g1-shard1of2', './g1-shard2of2'],
      weights: [
        { name: 'dense/kernel', shape: [2, 3], dtype: 'float32' },
        { name: 'ints', shape: [2], dtype: 'int32' },
        { name: 'flags', shape: [3], dtype: 'bool' },
      ],
    }];
    const map = await loadWeights(modelJson, manifest);
    assert.deepEqual(map.get('dense/kernel')!.shape, [2, 3]);
    assert.deepEqual(Array.from(map.get('dense/kernel')!.dataSync()), Array.from(a));
    assert.equal(map.get('ints')!.dtype, 'int32');
    assert.deepEqual(Array.from(map.get('ints')!.dataSync()), [7, -8]);
    assert.equal(map.get('flags')!.dtype, 'bool');
    assert.deepEqual(Array.from(map.get('flags')!.dataSync()), [1, 0, 1]);
    tf.dispose([...map.values()]);
  });

  it('dequantizes uint8, uint16 (float32 and int32 originals) and float16 weights', async () => {
    const u8 = new Uint8Array([0, 1, 255]);
    const u16 = new Uint16Array([0, 2, 65535]);
    const u8int = new Uint8Array([0, 3, 10]);
    const f16 = new Uint16Array([0x3c00, 0xb800, 0x4248]);
    writeFileSync(join(tmp.dir, 'model', 'quant.bin'), bytes(u8, new Uint8Array(1), u16, u8int, new Uint8Array(1), f16));
    // Padding entries keep the uint16 data 2-byte aligned in the shard, as the converter's layout would.
    const manifest = [{
      paths: ['quant.bin'],
      weights: [
        { name: 'a', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1, original_dtype: 'float32' } },
        { name: 'pad1', shape: [1], dtype: 'bool' },
        { name: 'b', shape: [3], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.001, min: 2 } },
        { name: 'c', shape: [3], dtype: 'int32', quantization: { dtype: 'uint8', scale: 0.4, min: 1 } },
        { name: 'pad2', shape: [1], dtype: 'bool' },
        { name: 'd', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
      ],
    }];
    const map = await loadWeights(modelJson, manifest);
    const close = (t: tf.Tensor, expected: number[]): void => {
      const got = Array.from(t.dataSync());
      got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `${v} vs ${expected[i]}`));
    };
    close(map.get('a')!, [-1, -0.5, 126.5]);
    close(map.get('b')!, [2, 2.002, 67.535]);
    assert.equal(map.get('c')!.dtype, 'int32');
    assert.deepEqual(Array.from(map.get('c')!.dataSync()), [1, 2, 5]);
    assert.equal(map.get('d')!.dtype, 'float32');
    close(map.get('d')!, [1, -0.5, 3.140625]);
    tf.dispose([...map.values()]);
  });

  it('returns an empty map for a model without weights', async () => {
    assert.equal((await loadWeights(modelJson, undefined)).size, 0);
  });

  it('refuses absolute paths, .. escapes and URLs, naming the manifest and the path', async () => {
    writeFileSync(join(tmp.dir, 'outside.bin'), Buffer.alloc(4));
    const entry = { name: 'w', shape: [1], dtype: 'float32' };
    await rejectsWith(loadWeights(modelJson, [{ paths: [join(tmp.dir, 'outside.bin')], weights: [entry] }]),
      /model\.json: weight path ".*outside\.bin" is absolute/);
    await rejectsWith(loadWeights(modelJson, [{ paths: ['../outside.bin'], weights: [entry] }]),
      /model\.json: weight path "\.\.\/outside\.bin" escapes the model's folder/);
    await rejectsWith(loadWeights(modelJson, [{ paths: ['sub/../../outside.bin'], weights: [entry] }]), /escapes the model's folder/);
    await rejectsWith(loadWeights(modelJson, [{ paths: ['https://example.com/w.bin'], weights: [entry] }]), /is a URL/);
    await rejectsWith(loadWeights(modelJson, [{ paths: ['..%2Foutside.bin'], weights: [entry] }]), /escapes the model's folder/);
  });

  it('refuses a symlink that resolves outside the model folder', async () => {
    writeFileSync(join(tmp.dir, 'secret.bin'), Buffer.alloc(4));
    symlinkSync(join(tmp.dir, 'secret.bin'), join(tmp.dir, 'model', 'link.bin'));
    await rejectsWith(loadWeights(modelJson, [{ paths: ['link.bin'], weights: [{ name: 'w', shape: [1], dtype: 'float32' }] }]),
      /weight path "link\.bin" resolves \(through a symbolic link\) outside/);
  });

  it('accepts a percent-encoded shard name and a symlink inside the folder', async () => {
    writeFileSync(join(tmp.dir, 'model', 'my weights.bin'), bytes(new Float32Array([42])));
    symlinkSync('my weights.bin', join(tmp.dir, 'model', 'inner-link.bin'));
    for (const path of ['my%20weights.bin', 'inner-link.bin']) {
      const map = await loadWeights(modelJson, [{ paths: [path], weights: [{ name: 'w', shape: [1], dtype: 'float32' }] }]);
      assert.equal(map.get('w')!.dataSync()[0], 42);
      tf.dispose([...map.values()]);
    }
  });

  it('checks shard sizes against the shapes before reading, naming the file', async () => {
    writeFileSync(join(tmp.dir, 'model', 'short.bin'), Buffer.alloc(20));
    const before = tf.memory().numTensors;
    await rejectsWith(loadWeights(modelJson, [{ paths: ['short.bin'], weights: [{ name: 'k', shape: [3, 3], dtype: 'float32' }] }]),
      /short\.bin: weight file holds 20 bytes but the manifest's shapes need 36 bytes/);
    await rejectsWith(loadWeights(modelJson, [{ paths: ['short.bin'], weights: [{ name: 'k', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', scale: 1, min: 0 } }] }]),
      /holds 20 bytes but .* need 4 bytes/);
    assert.equal(tf.memory().numTensors, before);
  });

  it('reports a missing shard, bad dtypes and malformed manifests in one line', async () => {
    const entry = { name: 'w', shape: [1], dtype: 'float32' };
    await rejectsWith(loadWeights(modelJson, [{ paths: ['nope.bin'], weights: [entry] }]), /nope\.bin: weight file listed in the model\.json is missing/);
    await rejectsWith(loadWeights(modelJson, [{ paths: ['short.bin'], weights: [{ name: 's', shape: [1], dtype: 'string' }] }]), /weight s has unsupported dtype string/);
    await rejectsWith(loadWeights(modelJson, [{ paths: ['short.bin'], weights: [{ name: 'q', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }] }]), /lacks numeric scale and min/);
    await rejectsWith(loadWeights(modelJson, [{ paths: ['short.bin'], weights: [{ name: 'n', shape: [-1], dtype: 'float32' }] }]), /invalid shape/);
    await rejectsWith(loadWeights(modelJson, { paths: [] }), /weightsManifest is not a list/);
    await rejectsWith(loadWeights(modelJson, [{ weights: [] }]), /needs "paths" and "weights"/);
  });
});
