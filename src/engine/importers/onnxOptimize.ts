/**
 * Load-time clean-ups of a converted graph: per-channel affine ops (batch norms) folded into the convolution or
 * dense layer before them, zero padding folded into the next convolution, and dead nodes removed.
 */
import type { PendingNode, WeightData } from './onnxConverter';

const FOLDS_AFFINE = new Set(['conv2d', 'depthwiseConv2d', 'dense', 'conv2dTranspose']);

function consumerCounts(nodes: PendingNode[], output: string): Map<string, number> {
  const counts = new Map<string, number>([[output, 1]]);
  for (const n of nodes) for (const i of n.inputs) counts.set(i, (counts.get(i) ?? 0) + 1);
  return counts;
}

/** Number of output channels of a foldable layer and how a kernel element index maps to its channel. */
function channelOf(node: PendingNode): { channels: number; index: (i: number) => number } {
  const shape = node.weights.kernel.shape;
  if (node.op === 'conv2dTranspose') {
    const [, , outC, inC] = shape;
    return { channels: outC, index: (i) => Math.floor(i / inC) % outC };
  }
  // conv2d [kh,kw,in,out], dense [in,out], depthwise [kh,kw,C,mult] (channel c*mult+m): the last axes, row-major.
  const channels = node.op === 'depthwiseConv2d' ? shape[2] * shape[3] : shape[shape.length - 1];
  return { channels, index: (i) => i % channels };
}

function isVector(w: WeightData | undefined, n: number): boolean {
  return !w || (w.data.length === n && w.shape.filter((d) => d !== 1).length <= 1 && w.shape[w.shape.length - 1] === n);
}

/** Folds a per-channel scale and shift applied after `layer` into it, when shapes allow; returns whether it did. */
function foldAffine(layer: PendingNode, scale: WeightData | undefined, shift: WeightData | undefined, sourceOp: string): boolean {
  const { channels, index } = channelOf(layer);
  if (!isVector(scale, channels) || !isVector(shift, channels)) return false;
  const kernel = layer.weights.kernel.data.slice();
  if (scale) for (let i = 0; i < kernel.length; i++) kernel[i] *= scale.data[index(i)];
  const bias = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const b = layer.weights.bias?.data[c] ?? 0;
    bias[c] = b * (scale?.data[c] ?? 1) + (shift?.data[c] ?? 0);
  }
  layer.weights = { ...layer.weights, kernel: { data: kernel, shape: layer.weights.kernel.shape }, bias: { data: bias, shape: [channels] } };
  layer.sourceOp = `${layer.sourceOp}+${sourceOp}`;
  return true;
}

/** Folds a zero `pad` of the spatial axes into the explicit padding of the convolution after it. */
function foldPad(pad: PendingNode, conv: PendingNode): boolean {
  const p = pad.attrs.paddings as unknown as number[][] | undefined;
  if (!p || p.length !== 4 || (pad.attrs.mode ?? 'constant') !== 'constant' || (pad.attrs.value ?? 0) !== 0) return false;
  if (p[0][0] || p[0][1] || p[3][0] || p[3][1]) return false;
  const current = conv.attrs.padding;
  if (current === 'same') return false;
  const [t, b, l, r] = Array.isArray(current) ? (current as number[]) : [0, 0, 0, 0];
  conv.attrs = { ...conv.attrs, padding: [t + p[1][0], b + p[1][1], l + p[2][0], r + p[2][1]] };
  conv.inputs = [pad.inputs[0]];
  return true;
}

/** For `add(layer, const)` (either order): the layer's name and the constant. */
function biasOperand(add: PendingNode, byName: Map<string, PendingNode>): { layer: string; shift: WeightData } | undefined {
  const [a, b] = add.inputs.map((i) => byName.get(i));
  if (!a || !b) return undefined;
  if (b.op === 'const' && a.op !== 'const') return { layer: a.name, shift: b.weights.value };
  if (a.op === 'const' && b.op !== 'const') return { layer: b.name, shift: a.weights.value };
  return undefined;
}

/** Applies the folds and drops nodes the output does not depend on. */
export function optimizeGraph(nodes: PendingNode[], output: string): { nodes: PendingNode[]; output: string } {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const counts = consumerCounts(nodes, output);
  const renamed = new Map<string, string>();
  const removed = new Set<string>();
  const resolve = (name: string): string => renamed.get(name) ?? name;
  for (const node of nodes) {
    node.inputs = node.inputs.map(resolve);
    const biasAdd = node.op === 'add' ? biasOperand(node, byName) : undefined;
    const src = byName.get(biasAdd ? biasAdd.layer : node.inputs[0] ?? '');
    if (!src || removed.has(src.name) || counts.get(src.name) !== 1 || src.name === output) continue;
    const foldable = FOLDS_AFFINE.has(src.op) && src.weights.kernel !== undefined;
    if ((node.op === 'affine' && foldable && foldAffine(src, node.weights.scale, node.weights.shift, node.sourceOp))
      || (biasAdd && foldable && foldAffine(src, undefined, biasAdd.shift, node.sourceOp))) {
      renamed.set(node.name, src.name);
      removed.add(node.name);
      counts.set(src.name, counts.get(node.name) ?? 0);
    } else if ((node.op === 'conv2d' || node.op === 'depthwiseConv2d') && src.op === 'pad' && foldPad(src, node)) {
      removed.add(src.name);
    }
  }
  const out = resolve(output);
  const live = new Set<string>();
  const stack = [out];
  while (stack.length) {
    const name = stack.pop()!;
    const n = byName.get(name);
    if (!n || live.has(name) || removed.has(name)) continue;
    live.add(name);
    stack.push(...n.inputs);
  }
  return { nodes: nodes.filter((n) => live.has(n.name)), output: out };
}
