/** The internal graph representation that every importer builds and the executor runs. */
import type * as tf from '@tensorflow/tfjs-core';

/** Memory layout of image tensors. Internally activations are always NHWC (the TF.js native layout). */
export type Layout = 'NHWC' | 'NCHW';

/** Padding of a windowed op: TF-style keywords, or explicit [top, bottom, left, right]. */
export type Padding = 'same' | 'valid' | [number, number, number, number];

/** An attribute value of a node. */
export type AttrValue = number | string | boolean | number[] | string[] | null | undefined;

/**
 * The op vocabulary of the executor. Activations are NHWC; attributes below are documented per op.
 *
 * Windowed ops (attrs: strides [sh,sw], dilations [dh,dw] (conv only), padding: Padding):
 *  - conv2d           weights.kernel [kh,kw,inC/groups,outC], weights.bias? [outC]; attrs.groups (default 1)
 *  - depthwiseConv2d  weights.kernel [kh,kw,inC,multiplier], weights.bias? [inC*multiplier]
 *  - conv2dTranspose  weights.kernel [kh,kw,outC,inC] (TF layout), weights.bias?; attrs.outputPadding? [h,w]
 *  - maxPool / avgPool attrs.kernel [kh,kw]; avgPool attrs.countIncludePad (default false); attrs.ceilMode
 * Dense and matrix ops:
 *  - dense            weights.kernel [in,out], weights.bias? [out]  (x: [N, in])
 *  - matmul           two tensor inputs; attrs.transposeA, attrs.transposeB
 * Per-channel (last axis) affine, used for folded batch norm, instance norm scale etc.:
 *  - affine           weights.scale? [C], weights.shift? [C]  -> x*scale + shift
 *  - batchNorm        weights.mean, variance, gamma?, beta? [C]; attrs.epsilon
 *  - instanceNorm     weights.gamma?, beta? [C]; attrs.epsilon (normalises over H,W per sample and channel)
 *  - layerNorm        attrs.axes number[] (normalised together), attrs.epsilon; weights.gamma?, beta? broadcast to x
 * Activations (a "ReLU family" op is one of relu, relu6, clip, leakyRelu, prelu, elu — guided backprop hooks them):
 *  - relu, relu6, clip (attrs.min, attrs.max), leakyRelu (attrs.alpha), prelu (weights.alpha, broadcast to last
 *    axis), elu (attrs.alpha, default 1), selu, sigmoid, hardSigmoid (attrs.alpha, attrs.beta; y=clip(a*x+b,0,1)),
 *    hardSwish (x*relu6(x+3)/6), swish (x*sigmoid(x)), gelu (exact, erf form), tanh, softplus, erf, exp, log,
 *    softmax (attrs.axis, default -1), logSoftmax (attrs.axis), identity
 * Global reductions:
 *  - globalAvgPool / globalMaxPool  NHWC -> [N,C], or [N,1,1,C] when attrs.keepDims
 *  - mean / sum / max  attrs.axes number[], attrs.keepDims
 * Elementwise binary (numpy broadcasting, inputs may be 'const' nodes): add, sub, mul, div, pow, maximum, minimum
 * Unary math: sqrt, neg, abs, reciprocal
 * Shape ops:
 *  - reshape   attrs.shape number[] (with -1; already resolved to the internal layout by the importer)
 *  - flatten   [N, ...] -> [N, prod(...)] in the tensor's current (NHWC) element order
 *  - transpose attrs.perm
 *  - squeeze   attrs.axes; expandDims attrs.axis
 *  - concat    attrs.axis (may be negative)
 *  - pad       attrs.paddings [[before,after] per axis]; attrs.mode 'constant'|'reflect'|'symmetric'; attrs.value
 *  - slice     attrs.begin number[], attrs.size number[] (-1 = to the end); attrs.strides? number[]
 *  - resize    attrs.size [h,w]; attrs.method 'nearest'|'bilinear'|'cubic'; attrs.alignCorners, attrs.halfPixelCenters
 *              attrs.ratio? [h,w]: input/output coordinate ratio when not the size ratio (resize by a scale factor)
 *              cubic (ONNX semantics): attrs.coordinateMode 'half_pixel'|'pytorch_half_pixel'|'align_corners'|
 *              'asymmetric', attrs.cubicCoeffA (default -0.75), attrs.excludeOutside
 *  - const     weights.value: a constant tensor (any shape), no inputs
 */
export type OpType =
  | 'conv2d' | 'depthwiseConv2d' | 'conv2dTranspose' | 'maxPool' | 'avgPool'
  | 'dense' | 'matmul' | 'affine' | 'batchNorm' | 'instanceNorm' | 'layerNorm'
  | 'relu' | 'relu6' | 'clip' | 'leakyRelu' | 'prelu' | 'elu' | 'selu' | 'sigmoid' | 'hardSigmoid'
  | 'hardSwish' | 'swish' | 'gelu' | 'tanh' | 'softplus' | 'erf' | 'exp' | 'log' | 'softmax' | 'logSoftmax'
  | 'identity'
  | 'globalAvgPool' | 'globalMaxPool' | 'mean' | 'sum' | 'max'
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'sqrt' | 'neg' | 'abs' | 'reciprocal'
  | 'reshape' | 'flatten' | 'transpose' | 'squeeze' | 'expandDims' | 'concat' | 'pad' | 'slice' | 'resize'
  | 'const';

/** Activations that guided backprop treats as a ReLU. */
export const RELU_FAMILY: ReadonlySet<OpType> = new Set<OpType>(['relu', 'relu6', 'clip', 'leakyRelu', 'prelu', 'elu']);

/** One node: produces exactly one tensor, referenced by the node's name. */
export interface GraphNode {
  /** Unique name; the user-facing layer name for the node that produces a layer's output. */
  name: string;
  op: OpType;
  /** Names of the tensors consumed: other nodes' names or the graph input's name. */
  inputs: string[];
  attrs: Record<string, AttrValue>;
  /** Constant tensors owned by the node (kernels, biases, ...), already in the internal layout. */
  weights: Record<string, tf.Tensor>;
  /** The layer class or op type in the source format (for listings and error messages). */
  sourceOp: string;
  /** The source layer/node this node was made from, when it differs from `name`. */
  sourceName?: string;
}

/** The single image input of a classifier graph. */
export interface GraphInput {
  name: string;
  /** Spatial size when fixed by the model, else null (dynamic). */
  height: number | null;
  width: number | null;
  channels: number;
  /** The layout the source model expects; the executor always takes NHWC. */
  sourceLayout: Layout;
}

/** A model in the internal representation. Nodes are in topological order. */
export interface Graph {
  format: 'tfjs-layers' | 'tfjs-graph' | 'onnx';
  input: GraphInput;
  /** The node whose output is the model's prediction ([N, classes]). */
  output: string;
  nodes: GraphNode[];
  /** Free-form notes from the importer (e.g. "dynamic spatial size; using 224"). */
  notes: string[];
  /** Class names stored in the model file itself (TF.js userDefinedMetadata, ONNX metadata_props), if any. */
  metadataLabels?: string[];
}

/** Frees every weight tensor of a graph. */
export function disposeGraph(graph: Graph): void {
  for (const node of graph.nodes) for (const w of Object.values(node.weights)) w.dispose();
}
