import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeNpyFile, writePng } from '../../src/engine/image/encode';
import { decodeNpy } from '../../src/shared/npy';
import { isBadInput } from '../../src/shared/errors';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'saliency-encode-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

test('writePng stores RGBA pixels losslessly, alpha included', async () => {
  const data = new Uint8Array([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 255, 1, 2, 3, 4, 200, 100, 50, 255]);
  const path = join(dir, 'out.png');
  await writePng(path, { width: 3, height: 2, data });
  const { data: back, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.format, 'raw');
  assert.deepEqual([info.width, info.height, info.channels], [3, 2, 4]);
  assert.deepEqual([...back], [...data]);
  assert.equal((await sharp(path).metadata()).format, 'png');
});

test('writeNpyFile writes a loadable .npy file', async () => {
  const path = join(dir, 'map.npy');
  await writeNpyFile(path, new Float32Array([1, 2, 3, 4, 5, 6]), [1, 2, 3]);
  const back = decodeNpy(new Uint8Array(readFileSync(path)));
  assert.deepEqual(back.shape, [1, 2, 3]);
  assert.deepEqual([...back.data], [1, 2, 3, 4, 5, 6]);
});

test('writing into a missing folder is a one-line error naming the file', async () => {
  const path = join(dir, 'no', 'such', 'out.png');
  await assert.rejects(writePng(path, { width: 1, height: 1, data: new Uint8Array(4) }),
    (err: unknown) => isBadInput(err) && err.message === `${path}: cannot write: folder does not exist`);
});
