import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GraphExecutor } from '../../src/engine/graph/executor';
import { disposeGraph } from '../../src/engine/graph/ir';
import { loadGraphFromFile } from '../../src/engine/importers/index';
import { isBadInput } from '../../src/shared/errors';
import { testBackend } from '../helpers/backend';
import { cosine, maxAbsDiff, onCpu, tempDir } from '../helpers/tfjsModels';

type Json = Record<string, unknown>;
const tmp = tempDir();
let folders = 0;

const str = (v: string) => ({ s: Buffer.from(v).toString('base64') });
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
const strs = (...v: string[]) => ({ list: { s: v.map((x) => Buffer.from(x).toString('base64')) } });
const node = (name: string, op: string, input: string[] = [], attr: Json = {}): Json => ({ name, op, input, attr });
const shape = (...dims: number[]) => ({ shape: { dim: dims.map((d) => ({ size: String(d) })) } });
/**
 * AvgPool 3×3 / stride 1 / 'same' with the divisor counting real pixels, written so that its gradient is
 * right: tfjs's stock AvgPool gradient divides by the whole window at 'same'-padded edges.
 */
function sameAvgPool3x3(x: tf.Tensor4D): tf.Tensor4D {
  const pads: Array<[number, number]> = [[0, 0], [1, 1], [1, 1], [0, 0]];
  const ones = tf.onesLike(tf.slice(x, [0, 0, 0, 0], [1, -1, -1, 1]));
  return tf.div(tf.avgPool(tf.pad(x, pads), 3, 1, 'valid'), tf.avgPool(tf.pad(ones, pads), 3, 1, 'valid')) as tf.Tensor4D;
}

const conv = (extra: Json = {}): Json => ({ strides: ints(1, 1, 1, 1), padding: str('SAME'), data_format: str('NHWC'), dilations: ints(1, 1, 1, 1), T: { type: 'DT_FLOAT' }, ...extra });

before(async () => {
  await testBackend();
});
after(() => tmp.cleanup());

/** Writes a graph-model folder: Const nodes for every weight, the given compute nodes, one shard. */
async function writeGraphModel(weights: Record<string, tf.Tensor>, nodes: Json[], extra: Json = {},
  shard = 'group1-shard1of1.bin'): Promise<{ path: string; artifacts: tf.io.ModelArtifacts }> {
  const { data, specs } = await tf.io.encodeWeights(weights);
  const consts = Object.entries(weights).map(([name, t]) =>
    node(name, 'Const', [], { dtype: { type: t.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: { dtype: t.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: shape(...t.shape).shape } } }));
  const modelTopology = { node: [...consts, ...nodes], library: {}, versions: { producer: 1395 } };
  const dir = join(tmp.dir, `g${folders++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'group1-shard1of1.bin'), new Uint8Array(data as ArrayBuffer));
  const json = { format: 'graph-model', generatedBy: '2.15.0', convertedBy: 'TensorFlow.js Converter v4.22.0', modelTopology,
    weightsManifest: [{ paths: [shard], weights: specs }], ...extra };
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(json));
  const artifacts = { modelTopology, weightSpecs: specs, weightData: data, format: 'graph-model', ...extra } as tf.io.ModelArtifacts;
  return { path, artifacts };
}

const rnd = (shapeOf: number[], seed: number, scale = 0.4) => tf.randomNormal(shapeOf, 0, scale, 'float32', seed);

/** Weights of network A. */
function weightsA(): Record<string, tf.Tensor> {
  return {
    w1: rnd([3, 3, 3, 4], 1), b1: rnd([4], 2), dw: rnd([3, 3, 4, 1], 3), db: rnd([4], 4),
    gamma: rnd([4], 5), beta: rnd([4], 6), mean: rnd([4], 7), variance: tf.randomUniform([4], 0.5, 1.5, 'float32', 8),
    axis: tf.scalar(3, 'int32'), paddings: tf.tensor2d([[0, 0], [1, 1], [1, 1], [0, 0]], undefined, 'int32'),
    w2: rnd([3, 3, 8, 6], 9), b2: rnd([6], 10), k6: rnd([6], 11), two: tf.scalar(2),
    axes: tf.tensor1d([1, 2], 'int32'), newShape: tf.tensor1d([-1, 6], 'int32'), w4T: rnd([5, 6], 12), b4: rnd([5], 13),
  };
}

/** Network A: fused conv + bias + relu, explicit-padded fused depthwise, batch norm, pools, concat, pad, ... softmax. */
const nodesA: Json[] = [
  node('x', 'Placeholder', [], { dtype: { type: 'DT_FLOAT' }, shape: shape(-1, 8, 8, 3) }),
  node('c1', '_FusedConv2D', ['x', 'w1', 'b1'], conv({ fused_ops: strs('BiasAdd', 'Relu'), num_args: { i: '1' }, epsilon: { f: 0 } })),
  node('d1', 'FusedDepthwiseConv2dNative', ['c1', 'dw', 'db'],
    conv({ strides: ints(1, 2, 2, 1), padding: str('EXPLICIT'), explicit_paddings: ints(0, 0, 1, 1, 1, 1, 0, 0), fused_ops: strs('BiasAdd', 'Relu6'), num_args: { i: '1' } })),
  node('bn', 'FusedBatchNormV3', ['d1', 'gamma', 'beta', 'mean', 'variance'], { epsilon: { f: 0.001 }, data_format: str('NHWC'), is_training: { b: false }, T: { type: 'DT_FLOAT' } }),
  node('mp', 'MaxPool', ['bn'], { ksize: ints(1, 2, 2, 1), strides: ints(1, 1, 1, 1), padding: str('SAME'), data_format: str('NHWC') }),
  node('ap', 'AvgPool', ['bn'], { ksize: ints(1, 3, 3, 1), strides: ints(1, 1, 1, 1), padding: str('SAME'), data_format: str('NHWC') }),
  node('cat', 'ConcatV2', ['mp', 'ap', 'axis'], { N: { i: '2' } }),
  node('pad', 'Pad', ['cat', 'paddings']),
  node('c2', 'Conv2D', ['pad', 'w2'], conv({ padding: str('VALID') })),
  node('c2b', 'BiasAdd', ['c2', 'b2'], { data_format: str('NHWC') }),
  node('lr', 'LeakyRelu', ['c2b'], { alpha: { f: 0.1 } }),
  node('th', 'Tanh', ['lr']),
  node('sg', 'Sigmoid', ['lr']),
  node('ml', 'Mul', ['th', 'sg']),
  node('ad', 'AddV2', ['ml', 'lr']),
  node('sb', 'Sub', ['ad', 'k6']),
  node('dv', 'RealDiv', ['sb', 'two']),
  node('gap', 'Mean', ['dv', 'axes'], { keep_dims: { b: false } }),
  node('flat', 'Reshape', ['gap', 'newShape']),
  node('fc', 'MatMul', ['flat', 'w4T'], { transpose_a: { b: false }, transpose_b: { b: true } }),
  node('fcb', 'BiasAdd', ['fc', 'b4']),
  node('probs', 'Softmax', ['fcb']),
  node('Identity', 'Identity', ['probs']),
];

/** Network A with plain tf ops. */
function referenceA(x: tf.Tensor, w: Record<string, tf.Tensor>): tf.Tensor {
  const c1 = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w.w1 as tf.Tensor4D, 1, 'same'), w.b1)) as tf.Tensor4D;
  const d1 = tf.relu6(tf.add(tf.depthwiseConv2d(c1, w.dw as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]), w.db));
  const bn = tf.add(tf.mul(tf.div(tf.sub(d1, w.mean), tf.sqrt(tf.add(w.variance, 0.001))), w.gamma), w.beta) as tf.Tensor4D;
  const cat = tf.concat([tf.maxPool(bn, 2, 1, 'same'), sameAvgPool3x3(bn)], 3);
  const padded = tf.pad(cat, [[0, 0], [1, 1], [1, 1], [0, 0]]) as tf.Tensor4D;
  const lr = tf.leakyRelu(tf.add(tf.conv2d(padded, w.w2 as tf.Tensor4D, 1, 'valid'), w.b2), 0.1);
  const dv = tf.div(tf.sub(tf.add(tf.mul(tf.tanh(lr), tf.sigmoid(lr)), lr), w.k6), 2);
  const fc = tf.add(tf.matMul(tf.mean(dv, [1, 2]) as tf.Tensor2D, w.w4T as tf.Tensor2D, false, true), w.b4);
  return tf.softmax(fc);
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isBadInput(err), `expected BadInputError, got ${String(err)}`);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

/** Checks outputs (≤ 1e-4) and the input gradient of one output (cosine ≥ 0.9999) against a reference. */
async function compare(exec: GraphExecutor, reference: (v: tf.Tensor) => tf.Tensor, x: tf.Tensor, target: number): Promise<void> {
  const got = tf.tidy(() => exec.run(x).output);
  const want = tf.tidy(() => reference(x));
  assert.deepEqual(got.shape, want.shape);
  assert.ok(maxAbsDiff(got, want) <= 1e-4, `max abs diff ${maxAbsDiff(got, want)}`);
  const pick = (f: (v: tf.Tensor) => tf.Tensor) => (v: tf.Tensor) => tf.sum(tf.slice(f(v), [0, target], [-1, 1]));
  const ours = tf.grad(pick((v) => exec.run(v).output))(x);
  const theirs = await onCpu(() => tf.grad(pick(reference))(x));
  assert.ok(cosine(ours, theirs) >= 0.9999, `gradient cosine ${cosine(ours, theirs)}`);
  tf.dispose([got, want, ours, theirs]);
}

describe('importGraphModel', () => {
  it('matches plain tf ops and tfjs-converter on a fused conv / depthwise / BN / pool / matmul / softmax graph', async () => {
    const w = weightsA();
    const signature = { outputs: { output_0: { name: 'Identity:0', dtype: 'DT_FLOAT' } } };
    const { path, artifacts } = await writeGraphModel(w, nodesA, { signature });
    const before = tf.memory().numTensors;
    const graph = await loadGraphFromFile(path);
    assert.equal(graph.format, 'tfjs-graph');
    assert.equal(graph.output, 'Identity');
    assert.deepEqual([graph.input.name, graph.input.height, graph.input.width, graph.input.channels, graph.input.sourceLayout], ['x', 8, 8, 3, 'NHWC']);
    assert.equal(graph.nodes.find((n) => n.name === 'c1/preact')?.op, 'conv2d');
    assert.equal(graph.nodes.find((n) => n.name === 'c1')?.op, 'relu');
    assert.deepEqual(graph.nodes.find((n) => n.name === 'd1/preact')?.attrs.padding, [1, 1, 1, 1]);
    const held = new Set(graph.nodes.flatMap((n) => Object.values(n.weights)));
    assert.equal(tf.memory().numTensors, before + held.size, 'only node weights stay allocated');
    assert.equal(held.size, Object.keys(w).length - 4, 'axis, paddings, axes and shape constants are read, not kept');
    const exec = new GraphExecutor(graph);
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 42);
    await compare(exec, (v) => referenceA(v, w), x, 1);
    const converter = await loadGraphModel(tf.io.fromMemory(artifacts));
    const viaConverter = converter.predict(x) as tf.Tensor;
    const ours = tf.tidy(() => exec.run(x).output);
    assert.ok(maxAbsDiff(ours, viaConverter) <= 1e-4, 'agrees with tfjs-converter');
    tf.dispose([x, viaConverter, ours]);
    converter.dispose();
    disposeGraph(graph);
    tf.dispose(Object.values(w));
  });

  it('handles an NCHW placeholder, conv fused with batch norm, resize, slice, fused matmul, squeeze and sink detection', async () => {
    const w: Record<string, tf.Tensor> = {
      perm: tf.tensor1d([0, 2, 3, 1], 'int32'), k: rnd([3, 3, 3, 4], 20), scale: rnd([4], 21), offset: rnd([4], 22),
      mu: rnd([4], 23), sigma2: tf.randomUniform([4], 0.5, 1.5, 'float32', 24), dwk: rnd([3, 3, 4, 2], 25),
      size: tf.tensor1d([6, 6], 'int32'), begin: tf.tensor1d([0, 1, 1, 0], 'int32'), extent: tf.tensor1d([-1, 4, 4, -1], 'int32'),
      axes: tf.tensor1d([1, 2], 'int32'), m1: rnd([8, 5], 26), c1: rnd([5], 27), m2: rnd([5, 3], 28), c2: rnd([3], 29),
      unused: rnd([100], 30),
    };
    const nodes = [
      node('image', 'Placeholder', [], { dtype: { type: 'DT_FLOAT' }, shape: shape(-1, 3, 6, 6) }),
      node('nhwc', 'Transpose', ['image', 'perm']),
      node('conv', '_FusedConv2D', ['nhwc', 'k', 'scale', 'offset', 'mu', 'sigma2', '^nhwc'],
        conv({ fused_ops: strs('FusedBatchNorm', 'Relu'), num_args: { i: '4' }, epsilon: { f: 0.001 } })),
      node('dw', 'DepthwiseConv2dNative', ['conv', 'dwk'], conv({ padding: str('VALID') })),
      node('dwr', 'Elu', ['dw']),
      node('up', 'ResizeBilinear', ['dwr', 'size'], { align_corners: { b: false }, half_pixel_centers: { b: true } }),
      node('crop', 'Slice', ['up', 'begin', 'extent']),
      node('m', 'Mean', ['crop', 'axes'], { keep_dims: { b: true } }),
      node('sq', 'Squeeze', ['m'], { squeeze_dims: ints(1, 2) }),
      node('fm', '_FusedMatMul', ['sq', 'm1', 'c1'], { fused_ops: strs('BiasAdd', 'Relu'), num_args: { i: '1' }, transpose_a: { b: false }, transpose_b: { b: false } }),
      node('logits', '_FusedMatMul', ['fm', 'm2', 'c2'], { fused_ops: strs('BiasAdd'), num_args: { i: '1' } }),
      node('NoOp', 'NoOp', ['^logits']),
    ];
    const { path } = await writeGraphModel(w, nodes);
    const before = tf.memory().numTensors;
    const graph = await loadGraphFromFile(path);
    assert.equal(graph.output, 'logits');
    assert.equal(graph.input.sourceLayout, 'NCHW');
    assert.deepEqual([graph.input.height, graph.input.width, graph.input.channels], [6, 6, 3]);
    const held = new Set(graph.nodes.flatMap((n) => Object.values(n.weights)));
    assert.equal(tf.memory().numTensors, before + held.size, 'weights no node holds (perm, axes, sizes, unused) are freed');
    assert.ok(![...held].some((t) => t.size === 100), 'the unused constant is not kept');
    const reference = (x: tf.Tensor): tf.Tensor => {
      const c = tf.conv2d(x as tf.Tensor4D, w.k as tf.Tensor4D, 1, 'same');
      const bn = tf.relu(tf.add(tf.mul(tf.div(tf.sub(c, w.mu), tf.sqrt(tf.add(w.sigma2, 0.001))), w.scale), w.offset)) as tf.Tensor4D;
      const dw = tf.elu(tf.depthwiseConv2d(bn, w.dwk as tf.Tensor4D, 1, 'valid'));
      const up = tf.slice(tf.image.resizeBilinear(dw as tf.Tensor4D, [6, 6], false, true), [0, 1, 1, 0], [-1, 4, 4, -1]);
      const fm = tf.relu(tf.add(tf.matMul(tf.mean(up, [1, 2]) as tf.Tensor2D, w.m1 as tf.Tensor2D), w.c1));
      return tf.add(tf.matMul(fm as tf.Tensor2D, w.m2 as tf.Tensor2D), w.c2);
    };
    const x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 43);
    await compare(new GraphExecutor(graph), reference, x, 2);
    x.dispose();
    disposeGraph(graph);
    tf.dispose(Object.values(w));
  });

  it('names unsupported ops and their node, and refuses bad data formats and missing constants', async () => {
    const w = weightsA();
    const before = tf.memory().numTensors;
    const withOp = nodesA.map((n) => (n.name === 'th' ? node('th', 'Cumsum', ['lr', 'axis']) : n));
    await rejectsWith(loadGraphFromFile((await writeGraphModel(w, withOp)).path), /model\.json: unsupported op Cumsum \(node "th"\)/);
    const nchw = nodesA.map((n) => (n.name === 'c2' ? node('c2', 'Conv2D', ['pad', 'w2'], conv({ data_format: str('NCHW') })) : n));
    await rejectsWith(loadGraphFromFile((await writeGraphModel(w, nchw)).path), /Conv2D node "c2": data_format NCHW is not supported/);
    const missing = [...nodesA, node('ghost', 'Const', [], {}), node('Identity2', 'AddV2', ['Identity', 'ghost'])];
    await rejectsWith(loadGraphFromFile((await writeGraphModel(w, missing)).path), /Const "ghost" has no value in the weights manifest/);
    await rejectsWith(loadGraphFromFile((await writeGraphModel(w, nodesA, {}, '../group1-shard1of1.bin')).path),
      /model\.json: weight path "\.\.\/group1-shard1of1\.bin" escapes the model's folder/);
    tf.dispose(Object.values(w));
    assert.equal(tf.memory().numTensors, before - Object.keys(w).length, 'failed imports free their tensors');
  });
});
