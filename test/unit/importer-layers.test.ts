import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GraphExecutor } from '../../src/engine/graph/executor';
import { type Graph, disposeGraph } from '../../src/engine/graph/ir';
import { loadGraphFromFile } from '../../src/engine/importers/index';
import { isBadInput } from '../../src/shared/errors';
import { testBackend } from '../helpers/backend';
import { captureArtifacts, cosine, maxAbsDiff, onCpu, tempDir, writeModelFolder } from '../helpers/tfjsModels';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const L = tfl.layers;
const tmp = tempDir();
let folders = 0;

before(async () => {
  await testBackend();
});
after(() => tmp.cleanup());

/** Replaces every weight with seeded random values (positive variances), so biases and BN stats matter. */
function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    const values = layer.weights.map((w, i) =>
      w.name.includes('variance')
        ? tf.randomUniform(w.shape as number[], 0.5, 1.5, 'float32', seed + i)
        : tf.randomNormal(w.shape as number[], 0, 0.4, 'float32', seed + 7 * i));
    if (values.length) layer.setWeights(values);
    tf.dispose(values);
  }
}

async function save(model: tfl.LayersModel, edit?: (json: Json) => void): Promise<string> {
  const dir = join(tmp.dir, `m${folders++}`);
  mkdirSync(dir);
  return writeModelFolder(dir, await captureArtifacts(model), { editJson: edit });
}

/** Directional derivative of f at x along d by central differences (for layers tfjs-layers cannot differentiate). */
function finiteDifference(f: (v: tf.Tensor) => tf.Tensor, x: tf.Tensor, d: tf.Tensor, eps = 1e-2): number {
  return tf.tidy(() => {
    const plus = f(tf.add(x, tf.mul(d, eps))).dataSync()[0];
    const minus = f(tf.sub(x, tf.mul(d, eps))).dataSync()[0];
    return (plus - minus) / (2 * eps);
  });
}

/**
 * Imports the saved model and checks logits and one logit's input gradient against tfjs-layers (or, where
 * tfjs-layers has no gradient, against finite differences along random directions).
 */
async function checkAgainstLayers(model: tfl.LayersModel, path: string, target = 1,
  gradientReference: 'layers' | 'finite-difference' = 'layers'): Promise<Graph> {
  const before = tf.memory().numTensors;
  const graph = await loadGraphFromFile(path);
  const held = new Set(graph.nodes.flatMap((node) => Object.values(node.weights)));
  assert.equal(tf.memory().numTensors, before + held.size, 'the import holds only node weights');
  const exec = new GraphExecutor(graph);
  const inputShape = (model.inputs[0].shape as number[]).slice(1);
  const x = tf.randomNormal([2, ...inputShape], 0, 1, 'float32', 3);
  const expected = model.predict(x) as tf.Tensor;
  const got = tf.tidy(() => exec.run(x).output);
  assert.deepEqual(got.shape, expected.shape);
  const diff = maxAbsDiff(got, expected);
  assert.ok(diff <= 1e-4, `max abs logit diff ${diff}`);
  const logit = (f: (v: tf.Tensor) => tf.Tensor) => (v: tf.Tensor) => tf.sum(tf.slice(f(v), [0, target], [-1, 1]));
  const ours = logit((v) => exec.run(v).output);
  const ourGrad = tf.grad(ours)(x);
  if (gradientReference === 'layers') {
    const refGrad = await onCpu(() => tf.grad(logit((v) => model.apply(v) as tf.Tensor))(x));
    const cos = cosine(ourGrad, refGrad);
    assert.ok(cos >= 0.9999, `gradient cosine ${cos}`);
    refGrad.dispose();
  } else {
    const gradNorm = tf.tidy(() => tf.norm(ourGrad).dataSync()[0]);
    for (let seed = 0; seed < 4; seed++) {
      // Unit directions keep the steps small enough not to cross ReLU / max-pool kinks; the first is the
      // gradient's own direction, where a wrong gradient shows most.
      const d = tf.tidy(() => {
        const r = seed === 0 ? ourGrad : tf.randomNormal(x.shape, 0, 1, 'float32', 100 + seed);
        return tf.div(r, tf.norm(r));
      });
      const numeric = finiteDifference(logit((v) => model.predict(v) as tf.Tensor), x, d, 1e-2);
      const analytic = tf.tidy(() => tf.sum(tf.mul(ourGrad, d)).dataSync()[0]);
      assert.ok(Math.abs(numeric - analytic) <= 1e-2 * gradNorm, `directional derivative ${analytic} vs ${numeric} (|g| ${gradNorm})`);
      d.dispose();
    }
  }
  tf.dispose([x, expected, got, ourGrad]);
  return graph;
}

function sequentialModel(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      L.rescaling({ scale: 0.5, offset: -0.25, inputShape: [13, 13, 3] }),
      L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      L.zeroPadding2d({ padding: [[1, 2], [0, 1]] }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 5, kernelSize: [3, 2], strides: [1, 2], padding: 'valid', activation: 'elu' }),
      L.cropping2D({ cropping: [[1, 0], [0, 1]] }),
      // 'valid': tfjs-layers' own AvgPool gradient is wrong at 'same'-padded edges (test/unit/ops-avgpool.test.ts).
      L.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid' }),
      L.batchNormalization(),
      L.flatten(),
      L.dropout({ rate: 0.5 }),
      L.dense({ units: 6, activation: 'tanh' }),
      L.dense({ units: 4 }),
    ],
  });
  randomizeWeights(model, 11);
  return model;
}

function residualModel(options: { bilinear: boolean; tricky: boolean }): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3] });
  const ap = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;
  let x = ap(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }), input);
  x = ap(L.batchNormalization(), x);
  x = ap(L.reLU(), x);
  const dw = ap(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu6' }), x);
  // tfjs-layers cannot differentiate BN without center/scale or dilated convs: those need finite differences.
  const bn = ap(L.batchNormalization({ epsilon: 0.01, center: !options.tricky }), dw);
  const res = ap(L.add(), [x, bn]);
  const sep = ap(L.separableConv2d({ filters: 6, kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'relu' }), res);
  const dil = ap(L.conv2d({ filters: 6, kernelSize: 3, dilationRate: options.tricky ? 2 : 1, padding: 'same' }), res);
  const mixed = ap(L.concatenate(), [ap(L.multiply(), [sep, dil]), ap(L.average(), [sep, dil]), ap(L.maximum(), [sep, dil]), ap(L.minimum(), [sep, dil]), res]);
  const pooled = ap(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), mixed);
  const up = ap(L.upSampling2d({ size: [2, 2] }), pooled);
  // Keras 3 resizes with half-pixel centres, tfjs-layers without: the Keras 3 variant leaves bilinear out.
  const upBilinear = ap(L.upSampling2d({ size: [2, 2], interpolation: options.bilinear ? 'bilinear' : 'nearest' }), pooled);
  const scaled = ap(L.batchNormalization({ scale: !options.tricky }), ap(L.add(), [up, upBilinear]));
  const head = ap(L.concatenate(), [ap(L.globalAveragePooling2d({}), scaled), ap(L.globalMaxPooling2d({}), mixed)]);
  const out = ap(L.dense({ units: 10 }), head);
  const model = tfl.model({ inputs: input, outputs: out });
  randomizeWeights(model, 23);
  return model;
}

function activationsModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 2] });
  const c = L.conv2d({ filters: 3, kernelSize: 1 }).apply(input) as tfl.SymbolicTensor;
  const names = ['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softmax', 'swish', 'softplus', 'gelu'] as const;
  const branches = names.map((activation) => L.activation({ activation }).apply(c) as tfl.SymbolicTensor);
  for (const layer of [L.reLU({ maxValue: 6 }), L.reLU({ maxValue: 1.5 }), L.leakyReLU({ alpha: 0.2 }), L.prelu({}), L.elu({}), L.softmax({ axis: -1 })]) {
    branches.push(layer.apply(c) as tfl.SymbolicTensor);
  }
  const cat = L.concatenate().apply(branches) as tfl.SymbolicTensor;
  const fused = L.conv2d({ filters: 4, kernelSize: 2, activation: 'selu' }).apply(cat) as tfl.SymbolicTensor;
  const out = L.dense({ units: 3 }).apply(L.flatten().apply(fused)) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  randomizeWeights(model, 5);
  return model;
}

function reshapeModel(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      L.conv2d({ filters: 3, kernelSize: 1, inputShape: [4, 6, 2] }),
      L.permute({ dims: [2, 1, 3] }),
      L.reshape({ targetShape: [3, 8, 3] }),
      L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'sigmoid' }),
      L.flatten(),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  randomizeWeights(model, 9);
  return model;
}

function transposedConvModel(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      L.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', inputShape: [5, 5, 2], activation: 'relu' }),
      L.conv2dTranspose({ filters: 2, kernelSize: [2, 3], strides: [2, 1], padding: 'valid' }),
      L.conv2dTranspose({ filters: 2, kernelSize: 1, strides: 2, padding: 'valid' }),
      L.conv2dTranspose({ filters: 2, kernelSize: 4, strides: 3, padding: 'same' }),
      L.globalAveragePooling2d({}),
      L.dense({ units: 3 }),
    ],
  });
  randomizeWeights(model, 41);
  return model;
}

/** Rewrites tfjs-layers inbound nodes into the Keras 3 call form ({args: [__keras_tensor__...]}). */
function toKeras3(json: Json): void {
  const topology = json.modelTopology;
  topology.keras_version = '3.3.3';
  topology.class_name = 'Functional';
  const tensor = (ref: unknown[]) => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: ref.slice(0, 3) } });
  for (const layer of topology.config.layers) {
    if (layer.class_name === 'InputLayer') {
      layer.config.batch_shape = layer.config.batch_input_shape;
      delete layer.config.batch_input_shape;
    }
    layer.inbound_nodes = layer.inbound_nodes.map((call: unknown[][]) =>
      ({ args: [call.length === 1 ? tensor(call[0]) : call.map(tensor)], kwargs: {} }));
  }
}

/** Wraps a tfjs-layers topology as Keras 2.1.6 writes it, with scoped, suffixed weight names. */
function toKeras2(json: Json, sequentialAsList: boolean): void {
  const { class_name, config } = json.modelTopology;
  json.modelTopology = {
    keras_version: '2.1.6', backend: 'tensorflow',
    model_config: { class_name, config: sequentialAsList ? config.layers : config },
  };
  for (const w of json.weightsManifest[0].weights) w.name = `model_1/${w.name}:0`;
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isBadInput(err), `expected BadInputError, got ${String(err)}`);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

describe('importLayersModel', () => {
  it('matches tfjs-layers on a Sequential conv/pad/crop/pool/BN/flatten/dense stack', async () => {
    const model = sequentialModel();
    const graph = await checkAgainstLayers(model, await save(model));
    assert.equal(graph.format, 'tfjs-layers');
    assert.deepEqual([graph.input.height, graph.input.width, graph.input.channels, graph.input.sourceLayout], [13, 13, 3, 'NHWC']);
    const conv = model.layers[1].name;
    assert.equal(graph.nodes.find((n) => n.name === `${conv}/preact`)?.op, 'conv2d');
    assert.equal(graph.nodes.find((n) => n.name === conv)?.op, 'relu');
    assert.equal(graph.output, model.layers[model.layers.length - 1].name);
    disposeGraph(graph);
  });

  it('matches tfjs-layers on a functional residual model (BN, depthwise, separable, merges, upsampling)', async () => {
    const model = residualModel({ bilinear: true, tricky: false });
    disposeGraph(await checkAgainstLayers(model, await save(model), 4));
  });

  it('matches tfjs-layers with dilated convs and BN without center/scale (gradient by finite differences)', async () => {
    const model = residualModel({ bilinear: true, tricky: true });
    disposeGraph(await checkAgainstLayers(model, await save(model), 5, 'finite-difference'));
  });

  it('matches tfjs-layers for every activation and activation layer', async () => {
    const model = activationsModel();
    const graph = await checkAgainstLayers(model, await save(model), 2);
    const ops = new Set(graph.nodes.map((n) => n.op));
    for (const op of ['relu', 'relu6', 'clip', 'leakyRelu', 'prelu', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softmax', 'swish', 'softplus', 'gelu']) {
      assert.ok(ops.has(op as never), `op ${op} present`);
    }
    disposeGraph(graph);
  });

  it('matches tfjs-layers through Permute and Reshape', async () => {
    const model = reshapeModel();
    disposeGraph(await checkAgainstLayers(model, await save(model), 0));
  });

  it('matches tfjs-layers on transposed convolutions (same/valid, kernel smaller than stride)', async () => {
    const model = transposedConvModel();
    disposeGraph(await checkAgainstLayers(model, await save(model), 1));
  });

  it('reads a Normalization layer with mean and variance in its config', async () => {
    const model = sequentialModel();
    // Normalization with mean 0.5 and variance 4 is the Rescaling(0.5, -0.25) it replaces.
    const path = await save(model, (j) => {
      const first = j.modelTopology.config.layers[0];
      first.class_name = 'Normalization';
      first.config = { name: first.config.name, axis: -1, mean: [0.5, 0.5, 0.5], variance: [4, 4, 4], batch_input_shape: first.config.batch_input_shape };
    });
    const graph = await checkAgainstLayers(model, path);
    assert.equal(graph.nodes[0].op, 'affine');
    disposeGraph(graph);
  });

  it('reads Keras 2.1.6 topologies (model_config wrapper, Sequential as a list, scoped weight names)', async () => {
    const seq = sequentialModel();
    disposeGraph(await checkAgainstLayers(seq, await save(seq, (j) => toKeras2(j, true))));
    const res = residualModel({ bilinear: false, tricky: false });
    disposeGraph(await checkAgainstLayers(res, await save(res, (j) => toKeras2(j, false)), 3));
  });

  it('reads Keras 3 functional topologies (dict inbound nodes, batch_shape)', async () => {
    const model = residualModel({ bilinear: false, tricky: false });
    disposeGraph(await checkAgainstLayers(model, await save(model, toKeras3), 2));
  });

  it('expands a model nested in a Sequential and names its output after the nested layer', async () => {
    const inner = tfl.sequential({ name: 'backbone', layers: [L.conv2d({ filters: 3, kernelSize: 3, inputShape: [7, 7, 2], activation: 'relu' }), L.globalAveragePooling2d({})] });
    const outer = tfl.sequential({ layers: [inner, L.dense({ units: 2 })] });
    randomizeWeights(outer, 31);
    randomizeWeights(inner, 37);
    const graph = await checkAgainstLayers(outer, await save(outer), 0);
    assert.equal(graph.nodes.find((n) => n.name === 'backbone')?.op, 'identity');
    disposeGraph(graph);
  });

  it('names the unsupported layer class and layer, in one line', async () => {
    const model = sequentialModel();
    const path = await save(model, (j) => {
      j.modelTopology.config.layers[8].class_name = 'LSTM';
    });
    await rejectsWith(loadGraphFromFile(path), new RegExp(`model\\.json: layer "${model.layers[8].name}" \\(LSTM\\): this layer class is not supported`));
  });

  it('rejects channels_first, unknown activations, missing weights and several inputs clearly', async () => {
    const model = sequentialModel();
    const conv = model.layers[1].name;
    const before = tf.memory().numTensors;
    await rejectsWith(loadGraphFromFile(await save(model, (j) => { j.modelTopology.config.layers[1].config.data_format = 'channels_first'; })),
      new RegExp(`layer "${conv}" \\(Conv2D\\): data_format channels_first is not supported`));
    await rejectsWith(loadGraphFromFile(await save(model, (j) => { j.modelTopology.config.layers[1].config.activation = 'mish_v2'; })),
      /unsupported activation "mish_v2"/);
    await rejectsWith(loadGraphFromFile(await save(model, (j) => { j.weightsManifest[0].weights[0].name = 'renamed/kernel'; })),
      new RegExp(`weight "kernel" of layer "${conv}" \\(Conv2D\\) is not in the weights manifest`));
    assert.equal(tf.memory().numTensors, before, 'failed imports free their weights');
    const a = tfl.input({ shape: [4, 4, 1] });
    const b = tfl.input({ shape: [4, 4, 1] });
    const two = tfl.model({ inputs: [a, b], outputs: L.add().apply([a, b]) as tfl.SymbolicTensor });
    await rejectsWith(loadGraphFromFile(await save(two)), /more than one input/);
  });
});
