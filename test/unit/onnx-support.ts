/** Test support for the ONNX importer tests: .npy reading, comparisons, gradients and tiny model building. */
import * as tf from '@tensorflow/tfjs-core';
import { readNpy } from '../helpers/reference';
import { type ActivationHook, GraphExecutor } from '../../src/engine/graph/executor';
import type { Graph } from '../../src/engine/graph/ir';
import { onnxRoot } from '../../src/engine/importers/onnxSchema';

/** A float32 array with its shape. */
export type NdArray = ReturnType<typeof readNpy>;

export { cosine, maxRelativeError as maxRelError, readNpy } from '../helpers/reference';

/** The committed and the generated ONNX fixture manifests list models like this. */
export interface ManifestEntry {
  name: string;
  opsets: number[];
  inputShape: [number, number, number];
  target: number;
  dynamicBatch: boolean;
}

/**
 * Guided backprop: at every ReLU-family node the backward pass lets through only positive incoming gradient,
 * where the forward input was inside the activation's linear range (relu/leaky/prelu/elu: x > 0; relu6: 0 < x < 6;
 * clip: min < x < max).
 */
export const guidedHook: ActivationHook = (node, x, forward) => {
  const lo = node.op === 'clip' ? Number(node.attrs.min) : 0;
  const hi = node.op === 'relu6' ? 6 : node.op === 'clip' ? Number(node.attrs.max) : Infinity;
  const guided = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([input]);
    return {
      value: forward(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        let pass = tf.logicalAnd(tf.greater(saved[0], lo), tf.greater(dy, 0));
        if (hi < Infinity) pass = tf.logicalAnd(pass, tf.less(saved[0], hi));
        return tf.mul(dy, tf.cast(pass, 'float32'));
      },
    };
  });
  return guided(x);
};

/** The model output for an NHWC batch, as a flat array. */
export function predict(graph: Graph, x: tf.Tensor): { shape: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const y = new GraphExecutor(graph).run(x).output;
    return { shape: y.shape, data: y.dataSync() as Float32Array };
  });
}

/** Logits and the input gradient of logits[0, target] for one [H,W,C] input, plain or guided. */
export function logitsAndGradient(graph: Graph, input: NdArray, target: number, guided: boolean): { logits: Float32Array; grad: Float32Array } {
  const exec = new GraphExecutor(graph);
  const x = tf.tensor4d(input.data, [1, ...input.shape] as [number, number, number, number]);
  let kept: tf.Tensor | undefined;
  const grad = tf.grad((inp: tf.Tensor) => {
    const out = exec.run(inp, guided ? { activationHook: guidedHook } : {}).output;
    kept = tf.keep(out);
    return tf.sum(tf.slice(out, [0, target], [1, 1]));
  })(x);
  const result = { logits: kept!.dataSync().slice() as Float32Array, grad: grad.dataSync().slice() as Float32Array };
  kept!.dispose();
  grad.dispose();
  x.dispose();
  return result;
}

/** Encodes a ModelProto given as a plain object (camelCase field names of the embedded schema). */
export function encodeModel(model: Record<string, unknown>): Uint8Array {
  const type = onnxRoot().lookupType('onnx.ModelProto');
  return type.encode(type.fromObject(model)).finish();
}

/** A float32 initializer stored as raw little-endian bytes. */
export function rawTensor(name: string, dims: number[], values: ArrayLike<number>): Record<string, unknown> {
  return { name, dims, dataType: 1, rawData: new Uint8Array(Float32Array.from(values).buffer) };
}

/** A graph input/output declaration of a float tensor; null dims are symbolic. */
export function valueInfo(name: string, dims: Array<number | string>): Record<string, unknown> {
  return {
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** A node with attributes given as {name: number | number[] | string}. */
export function onnxNode(opType: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[] | string> = {},
  name = ''): Record<string, unknown> {
  const attribute = Object.entries(attrs).map(([key, v]) => {
    if (typeof v === 'string') return { name: key, type: 3, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) return { name: key, type: 7, ints: v };
    return Number.isInteger(v) ? { name: key, type: 2, i: v } : { name: key, type: 1, f: v };
  });
  return { opType, input: inputs, output: outputs, attribute, name };
}

/** A complete model around nodes. */
export function onnxModel(nodes: Array<Record<string, unknown>>, initializers: Array<Record<string, unknown>>,
  input: Record<string, unknown>, output: Record<string, unknown>, opset = 13): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'saliency-lens-tests',
    graph: { name: 'g', node: nodes, initializer: initializers, input: [input], output: [output] },
  });
}

/** Deterministic pseudo-random values in [-1, 1). */
export function seededValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A plain-JS NCHW convolution (reference for layout conversion tests). pads: [top, left, bottom, right]. */
export function naiveConvNchw(x: Float32Array, [n, c, h, w]: number[], k: Float32Array, [m, cg, kh, kw]: number[],
  bias: Float32Array | undefined, pads: number[], strides: number[], group: number): { data: Float32Array; shape: number[] } {
  const [pt, pl, pb, pr] = pads;
  const oh = Math.floor((h + pt + pb - kh) / strides[0]) + 1;
  const ow = Math.floor((w + pl + pr - kw) / strides[1]) + 1;
  const out = new Float32Array(n * m * oh * ow);
  const perGroup = m / group;
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < m; o++) {
      const g = Math.floor(o / perGroup);
      for (let y = 0; y < oh; y++) {
        for (let xx = 0; xx < ow; xx++) {
          let acc = bias ? bias[o] : 0;
          for (let ci = 0; ci < cg; ci++) {
            const cin = g * cg + ci;
            for (let i = 0; i < kh; i++) {
              const sy = y * strides[0] - pt + i;
              if (sy < 0 || sy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const sx = xx * strides[1] - pl + j;
                if (sx < 0 || sx >= w) continue;
                acc += x[((b * c + cin) * h + sy) * w + sx] * k[((o * cg + ci) * kh + i) * kw + j];
              }
            }
          }
          out[((b * m + o) * oh + y) * ow + xx] = acc;
        }
      }
    }
  }
  return { data: out, shape: [n, m, oh, ow] };
}

/** NCHW → NHWC for a flat array. */
export function nchwToNhwc(x: Float32Array, [n, c, h, w]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) for (let ci = 0; ci < c; ci++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    out[((b * h + y) * w + xx) * c + ci] = x[((b * c + ci) * h + y) * w + xx];
  }
  return out;
}
