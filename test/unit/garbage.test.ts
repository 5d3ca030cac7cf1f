/** collectGarbage: dead ArrayBuffers (a loaded model's file bytes and decoded weights) leave memory on request. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { collectGarbage } from '../../src/engine/garbage';

it('frees a dropped 64 MB buffer that nothing else would collect', () => {
  let big: Float32Array | null = new Float32Array(16 * 2 ** 20);
  big.fill(1);
  const held = process.memoryUsage().arrayBuffers;
  big = null;
  assert.ok(collectGarbage(), 'a collection ran');
  const freed = held - process.memoryUsage().arrayBuffers;
  assert.ok(freed >= 60 * 2 ** 20, `freed ${(freed / 2 ** 20).toFixed(0)} MB`);
});
