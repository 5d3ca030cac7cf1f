/**
 * ONNX importer on hand-built models: weight layouts against a plain-JS NCHW reference, Conv→BatchNorm and
 * Gemm folding, initializer encodings (raw, typed fields, float16, bfloat16, double, int64), Clip forms,
 * auto_pad, legacy Softmax, Upsample/Resize, NHWC inputs, dynamic input sizes, and layer names.
 */
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { disposeGraph, type Graph } from '../../src/engine/graph/ir';
import { importOnnxModel, metadataLabels, type OnnxImportOptions } from '../../src/engine/importers/onnx';
import { testBackend } from '../helpers/backend';
import {
  encodeModel, maxRelError, naiveConvNchw, nchwToNhwc, onnxModel, onnxNode, predict, rawTensor, seededValues, valueInfo,
} from './onnx-support';

const dir = mkdtempSync(join(tmpdir(), 'onnx-ops-'));
let counter = 0;

async function load(bytes: Uint8Array, options?: OnnxImportOptions): Promise<Graph> {
  const path = join(dir, `m${counter++}.onnx`);
  writeFileSync(path, bytes);
  return importOnnxModel(path, options);
}

/** Runs a graph on an NCHW input given as a flat array; returns the flat output. */
function run(graph: Graph, x: Float32Array, nchw: number[]): Float32Array {
  const input = tf.tensor4d(nchwToNhwc(x, nchw), [nchw[0], nchw[2], nchw[3], nchw[1]]);
  const y = predict(graph, input).data;
  input.dispose();
  return y;
}

const X = seededValues(3 * 6 * 6, 1);
const X_SHAPE = [1, 3, 6, 6];
const W = seededValues(4 * 3 * 3 * 3, 2);
const B = seededValues(4, 3);

before(async () => {
  await testBackend();
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('ONNX convolutions and batch norm', () => {
  it('converts Conv weights and folds a following BatchNormalization', async () => {
    const gamma = [1.5, 0.5, 1, 2];
    const beta = [0.1, -0.2, 0.3, 0];
    const mean = [0.2, -0.1, 0, 0.5];
    const variance = [0.5, 1, 2, 1.5];
    const graph = await load(onnxModel([
      onnxNode('Conv', ['x', 'w', 'b'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv'),
      onnxNode('BatchNormalization', ['c', 'g', 'be', 'm', 'v'], ['n'], { epsilon: 1e-3 }, 'bn'),
      onnxNode('Relu', ['n'], ['y'], {}, 'relu'),
    ], [rawTensor('w', [4, 3, 3, 3], W), rawTensor('b', [4], B), rawTensor('g', [4], gamma), rawTensor('be', [4], beta),
      rawTensor('m', [4], mean), rawTensor('v', [4], variance)], valueInfo('x', ['N', 3, 6, 6]), valueInfo('y', ['N', 4, 6, 6])));
    try {
      assert.deepEqual(graph.nodes.map((n) => n.op), ['conv2d', 'relu', 'transpose']);
      assert.equal(graph.nodes[0].sourceOp, 'Conv+BatchNormalization');
      const conv = naiveConvNchw(X, X_SHAPE, W, [4, 3, 3, 3], B, [1, 1, 1, 1], [1, 1], 1);
      const expected = conv.data.map((v, i) => {
        const c = Math.floor(i / 36) % 4;
        return Math.max(0, (v - mean[c]) / Math.sqrt(variance[c] + 1e-3) * gamma[c] + beta[c]);
      });
      assert.ok(maxRelError(run(graph, X, X_SHAPE), expected) < 1e-5);
    } finally {
      disposeGraph(graph);
    }
  });

  it('converts grouped, depthwise and strided convolutions with asymmetric pads', async () => {
    const x = seededValues(4 * 7 * 7, 4);
    const cases = [
      { w: [8, 1, 3, 3], group: 4, pads: [0, 1, 1, 0], strides: [2, 2] }, // depthwise, multiplier 2
      { w: [6, 2, 3, 3], group: 2, pads: [1, 0, 2, 1], strides: [1, 2] }, // grouped
    ];
    for (const c of cases) {
      const w = seededValues(c.w.reduce((a, b) => a * b), 6);
      const graph = await load(onnxModel([
        onnxNode('Conv', ['x', 'w'], ['y'], { kernel_shape: [3, 3], pads: c.pads, strides: c.strides, group: c.group }, 'conv'),
      ], [rawTensor('w', c.w, w)], valueInfo('x', [1, 4, 7, 7]), valueInfo('y', [1, c.w[0], 0, 0])));
      try {
        const expected = naiveConvNchw(x, [1, 4, 7, 7], w, c.w, undefined, c.pads, c.strides, c.group).data;
        assert.ok(maxRelError(run(graph, x, [1, 4, 7, 7]), expected) < 1e-5, `group ${c.group}`);
        if (c.group === 4) assert.equal(graph.nodes[0].op, 'depthwiseConv2d');
      } finally {
        disposeGraph(graph);
      }
    }
  });

  it('resolves auto_pad SAME_UPPER and SAME_LOWER', async () => {
    for (const [mode, pads] of [['SAME_UPPER', [0, 0, 1, 1]], ['SAME_LOWER', [1, 1, 0, 0]]] as const) {
      const graph = await load(onnxModel([
        onnxNode('Conv', ['x', 'w'], ['y'], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: mode }, 'conv'),
      ], [rawTensor('w', [4, 3, 3, 3], W)], valueInfo('x', [1, 3, 6, 6]), valueInfo('y', [1, 4, 3, 3])));
      try {
        const expected = naiveConvNchw(X, X_SHAPE, W, [4, 3, 3, 3], undefined, [...pads], [2, 2], 1).data;
        assert.ok(maxRelError(run(graph, X, X_SHAPE), expected) < 1e-5, mode);
      } finally {
        disposeGraph(graph);
      }
    }
  });
});

/** x [1,3,2,2] → Flatten → node(s) → y. */
async function flatModel(nodes: Array<Record<string, unknown>>, inits: Array<Record<string, unknown>>, opset = 13): Promise<Graph> {
  return load(onnxModel([onnxNode('Flatten', ['x'], ['f'], {}, 'flatten'), ...nodes], inits,
    valueInfo('x', [1, 3, 2, 2]), valueInfo('y', [1, 5]), opset));
}

describe('ONNX dense layers and initializer encodings', () => {
  const x = seededValues(12, 7);
  const b = seededValues(5 * 12, 8);
  const c = seededValues(5, 9);

  it('applies Gemm alpha, beta (given as INT too) and transB', async () => {
    const graph = await flatModel([onnxNode('Gemm', ['f', 'b', 'c'], ['y'], { transB: 1, alpha: 0.5, beta: 2 }, 'fc')],
      [rawTensor('b', [5, 12], b), rawTensor('c', [5], c)]);
    try {
      const expected = Array.from({ length: 5 }, (_, o) => 0.5 * x.reduce((s, v, k) => s + v * b[o * 12 + k], 0) + 2 * c[o]);
      assert.ok(maxRelError(run(graph, x, [1, 3, 2, 2]), expected) < 1e-5);
    } finally {
      disposeGraph(graph);
    }
  });

  it('applies Gemm transA', async () => {
    const graph = await flatModel([onnxNode('Gemm', ['f', 'b'], ['y'], { transA: 1 }, 'fc')], [rawTensor('b', [1, 5], c)]);
    try {
      const expected = Array.from({ length: 60 }, (_, i) => x[Math.floor(i / 5)] * c[i % 5]);
      assert.ok(maxRelError(run(graph, x, [1, 3, 2, 2]), expected) < 1e-6);
    } finally {
      disposeGraph(graph);
    }
  });

  it('reads raw, typed, float16, bfloat16 and double initializers alike', async () => {
    // Multiples of 1/64 in [-1, 1] are exact in every one of these formats.
    const exact = Float32Array.from(b, (v) => Math.round(v * 64) / 64);
    const half = (v: number) => {
      if (v === 0) return 0;
      const e = Math.floor(Math.log2(Math.abs(v)));
      return (v < 0 ? 0x8000 : 0) | ((e + 15) << 10) | Math.round((Math.abs(v) / 2 ** e - 1) * 1024);
    };
    const halfBits = Uint16Array.from(exact, half);
    const bf16 = Uint16Array.from(new Uint32Array(exact.buffer.slice(0)), (bits) => bits >>> 16);
    const shape = [5, 12];
    const encodings: Record<string, Record<string, unknown>> = {
      raw: rawTensor('b', shape, exact),
      floatData: { name: 'b', dims: shape, dataType: 1, floatData: Array.from(exact) },
      float16Raw: { name: 'b', dims: shape, dataType: 10, rawData: new Uint8Array(halfBits.buffer) },
      float16Int32Data: { name: 'b', dims: shape, dataType: 10, int32Data: Array.from(halfBits) },
      bfloat16Raw: { name: 'b', dims: shape, dataType: 16, rawData: new Uint8Array(bf16.buffer) },
      doubleData: { name: 'b', dims: shape, dataType: 11, doubleData: Array.from(exact) },
    };
    const expected = Array.from({ length: 5 }, (_, o) => x.reduce((s, v, k) => s + v * exact[o * 12 + k], 0));
    for (const [label, init] of Object.entries(encodings)) {
      const graph = await flatModel([onnxNode('Gemm', ['f', 'b'], ['y'], { transB: 1 }, 'fc')], [init]);
      try {
        assert.ok(maxRelError(run(graph, x, [1, 3, 2, 2]), expected) < 1e-6, label);
      } finally {
        disposeGraph(graph);
      }
    }
  });

  it('reads int64 shapes from raw data and typed fields', async () => {
    const raw = new Uint8Array(BigInt64Array.from([1n, -1n]).buffer);
    for (const shape of [{ name: 's', dims: [2], dataType: 7, rawData: raw }, { name: 's', dims: [2], dataType: 7, int64Data: [0, -1] }]) {
      const graph = await load(onnxModel([
        onnxNode('Reshape', ['x', 's'], ['r'], {}, 'reshape'),
        onnxNode('MatMul', ['r', 'b'], ['y'], {}, 'fc'),
      ], [shape, rawTensor('b', [12, 5], b)], valueInfo('x', [1, 3, 2, 2]), valueInfo('y', [1, 5])));
      try {
        const expected = Array.from({ length: 5 }, (_, o) => x.reduce((s, v, k) => s + v * b[k * 5 + o], 0));
        assert.ok(maxRelError(run(graph, x, [1, 3, 2, 2]), expected) < 1e-5);
        assert.deepEqual(graph.nodes.map((n) => n.op), ['transpose', 'reshape', 'dense'], 'one transpose to NCHW order');
      } finally {
        disposeGraph(graph);
      }
    }
  });
});

describe('ONNX activations, softmax and resizing', () => {
  it('maps Clip (attribute and input forms) to relu6, relu and clip', async () => {
    const x = Float32Array.from(seededValues(12, 12), (v) => v * 10);
    const cases: Array<[number, Array<Record<string, unknown>>, Record<string, number>, string[], string, [number, number]]> = [
      [10, [], { min: 0, max: 6 }, ['x'], 'relu6', [0, 6]],
      [13, [rawTensor('lo', [], [0])], {}, ['x', 'lo'], 'relu', [0, Infinity]],
      [13, [rawTensor('lo', [], [-1]), rawTensor('hi', [], [2])], {}, ['x', 'lo', 'hi'], 'clip', [-1, 2]],
    ];
    for (const [opset, inits, attrs, inputs, op, [lo, hi]] of cases) {
      const graph = await load(onnxModel([onnxNode('Clip', inputs, ['c'], attrs, 'clip'), onnxNode('Flatten', ['c'], ['y'], {}, 'f')],
        inits, valueInfo('x', [1, 3, 2, 2]), valueInfo('y', [1, 12]), opset));
      try {
        assert.equal(graph.nodes[0].op, op);
        assert.deepEqual(Array.from(run(graph, x, [1, 3, 2, 2])), Array.from(x, (v) => Math.min(hi, Math.max(lo, v))));
      } finally {
        disposeGraph(graph);
      }
    }
  });

  it('coerces legacy (opset < 13) Softmax to 2-D', async () => {
    const x = seededValues(12, 13);
    const graph = await load(onnxModel([onnxNode('Softmax', ['x'], ['s'], { axis: 1 }, 'softmax'),
      onnxNode('Flatten', ['s'], ['y'], {}, 'f')], [], valueInfo('x', [1, 3, 2, 2]), valueInfo('y', [1, 12]), 11));
    try {
      const sum = x.reduce((s, v) => s + Math.exp(v), 0);
      assert.ok(maxRelError(run(graph, x, [1, 3, 2, 2]), Array.from(x, (v) => Math.exp(v) / sum)) < 1e-5);
    } finally {
      disposeGraph(graph);
    }
  });

  it('upsamples (opset 9 Upsample, Resize by scales and by sizes) and pools globally', async () => {
    const x = seededValues(3 * 3 * 3, 14);
    const nearest = Array.from({ length: 3 * 6 * 6 }, (_, i) => {
      const c = Math.floor(i / 36);
      return x[c * 9 + Math.floor((i % 36) / 6 / 2) * 3 + Math.floor((i % 6) / 2)];
    });
    const models = [
      onnxModel([onnxNode('Upsample', ['x', 's'], ['y'], { mode: 'nearest' }, 'up')], [rawTensor('s', [4], [1, 1, 2, 2])],
        valueInfo('x', [1, 3, 3, 3]), valueInfo('y', [1, 3, 6, 6]), 9),
      onnxModel([onnxNode('Resize', ['x', '', 's'], ['y'], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor' }, 'up')], [rawTensor('s', [4], [1, 1, 2, 2])], valueInfo('x', [1, 3, 3, 3]), valueInfo('y', [1, 3, 6, 6])),
      onnxModel([onnxNode('Resize', ['x', '', '', 'sz'], ['y'], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor' }, 'up')], [{ name: 'sz', dims: [4], dataType: 7, int64Data: [1, 3, 6, 6] }],
      valueInfo('x', [1, 3, 3, 3]), valueInfo('y', [1, 3, 6, 6])),
    ];
    for (const bytes of models) {
      const graph = await load(bytes);
      try {
        assert.deepEqual(Array.from(run(graph, x, [1, 3, 3, 3])), nearest);
      } finally {
        disposeGraph(graph);
      }
    }
    const pooled = await load(onnxModel([onnxNode('Identity', ['x'], ['i']), onnxNode('Dropout', ['i'], ['d']),
      onnxNode('Cast', ['d'], ['c'], { to: 1 }), onnxNode('GlobalMaxPool', ['c'], ['p'], {}, 'gmp'),
      onnxNode('Flatten', ['p'], ['y'], {}, 'f')], [], valueInfo('x', [1, 3, 3, 3]), valueInfo('y', [1, 3])));
    try {
      const expected = [0, 1, 2].map((c) => Math.max(...x.subarray(c * 9, c * 9 + 9)));
      assert.deepEqual(Array.from(run(pooled, x, [1, 3, 3, 3])), expected);
      assert.deepEqual(pooled.nodes.map((n) => n.op), ['globalMaxPool', 'reshape'], 'Identity, Dropout and Cast vanish');
    } finally {
      disposeGraph(pooled);
    }
  });
});

describe('ONNX opset 18 forms', () => {
  it('takes ReduceMean axes and Pad axes as inputs', async () => {
    const x = seededValues(3 * 4 * 4, 15);
    const int64 = (name: string, values: number[]) => ({ name, dims: [values.length], dataType: 7, int64Data: values });
    const graph = await load(onnxModel([
      onnxNode('Pad', ['x', 'pads', '', 'axes'], ['p'], { mode: 'constant' }, 'pad'),
      onnxNode('ReduceMean', ['p', 'raxes'], ['y'], { keepdims: 0 }, 'mean'),
    ], [int64('pads', [1, 0, 1, 2]), int64('axes', [2, 3]), int64('raxes', [-1, -2])],
    valueInfo('x', [1, 3, 4, 4]), valueInfo('y', [1, 3]), 18));
    try {
      // Zero padding to 6x6 then the mean over 36 positions: the sum of the 16 values over 36.
      const expected = [0, 1, 2].map((c) => x.subarray(c * 16, c * 16 + 16).reduce((a, b) => a + b, 0) / 36);
      assert.ok(maxRelError(run(graph, x, [1, 3, 4, 4]), expected) < 1e-6);
    } finally {
      disposeGraph(graph);
    }
  });
});

describe('ONNX inputs and names', () => {
  const convNet = (input: Record<string, unknown>, first: Array<Record<string, unknown>>, convIn: string) => onnxModel([
    ...first,
    onnxNode('Conv', [convIn, 'w'], ['c'], { kernel_shape: [3, 3] }, '/features/conv'),
    onnxNode('Relu', ['c'], ['r'], {}, '/features/relu'),
    onnxNode('GlobalAveragePool', ['r'], ['p'], {}, '/pool'),
    onnxNode('Flatten', ['p'], ['y'], {}, ''),
  ], [rawTensor('w', [4, 3, 3, 3], W)], input, valueInfo('y', ['N', 4]));

  it('reads NHWC inputs (Transpose to NCHW first) without any transpose at run time', async () => {
    const nhwc = nchwToNhwc(X, X_SHAPE);
    const graph = await load(convNet(valueInfo('x', [1, 6, 6, 3]), [onnxNode('Transpose', ['x'], ['t'], { perm: [0, 3, 1, 2] }, 'to_nchw')], 't'));
    try {
      assert.equal(graph.input.sourceLayout, 'NHWC');
      assert.ok(!graph.nodes.some((n) => n.op === 'transpose'));
      const conv = naiveConvNchw(X, X_SHAPE, W, [4, 3, 3, 3], undefined, [0, 0, 0, 0], [1, 1], 1).data;
      const expected = [0, 1, 2, 3].map((c) => conv.subarray(c * 16, c * 16 + 16).reduce((s, v) => s + Math.max(v, 0), 0) / 16);
      const input = tf.tensor4d(nhwc, [1, 6, 6, 3]);
      assert.ok(maxRelError(predict(graph, input).data, expected) < 1e-5);
      input.dispose();
    } finally {
      disposeGraph(graph);
    }
  });

  it('uses 224 (with a note) or the given size for dynamic spatial sizes, and keeps ONNX node names', async () => {
    const bytes = convNet(valueInfo('x', ['batch', 3, 'height', 'width']), [], 'x');
    const graph = await load(bytes);
    const sized = await load(bytes, { inputSize: [40, 30] });
    try {
      assert.deepEqual([graph.input.height, graph.input.width, graph.input.channels], [224, 224, 3]);
      assert.ok(graph.notes.some((n) => n.includes('224')));
      assert.deepEqual([sized.input.height, sized.input.width], [40, 30]);
      assert.deepEqual(graph.nodes.map((n) => n.name), ['/features/conv', '/features/relu', '/pool', 'y']);
      assert.equal(graph.output, 'y');
    } finally {
      disposeGraph(graph);
      disposeGraph(sized);
    }
  });

  it('reads class names from metadata_props', async () => {
    assert.deepEqual(metadataLabels([{ key: 'labels', value: '["cat", "dog"]' }]), ['cat', 'dog']);
    assert.deepEqual(metadataLabels([{ key: 'classes', value: '{"1": "dog", "0": "cat"}' }]), ['cat', 'dog']);
    assert.deepEqual(metadataLabels([{ key: 'class_names', value: 'cat\ndog\n' }]), ['cat', 'dog']);
    assert.equal(metadataLabels([{ key: 'author', value: 'me' }]), undefined);
    const graph = await load(encodeModel({
      irVersion: 8, opsetImport: [{ domain: '', version: 13 }], metadataProps: [{ key: 'classLabels', value: 'a, b, c' }],
      graph: { name: 'g', node: [onnxNode('GlobalAveragePool', ['x'], ['p'], {}, 'pool'), onnxNode('Flatten', ['p'], ['y'], {}, 'f')],
        input: [valueInfo('x', [1, 3, 2, 2])], output: [valueInfo('y', [1, 3])] },
    }));
    try {
      assert.deepEqual(graph.metadataLabels, ['a', 'b', 'c']);
    } finally {
      disposeGraph(graph);
    }
  });
});
