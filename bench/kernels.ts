// Per-layer forward and input-gradient times on wasm for a darknet-like stack at 224×224 (plus the strided
// and depthwise layers of ResNet/MobileNet), stock tfjs gradients ("before") against the fast kernels
// ("after"), then the whole stack through the executor. Run: node --import tsx bench/kernels.ts [--runs N]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend';
import { OP_IMPLS } from '../src/engine/graph/ops';
import { GraphExecutor } from '../src/engine/graph/executor';
import type { Graph, GraphNode, OpType } from '../src/engine/graph/ir';
import { setFastGradientsEnabled } from '../src/engine/kernels/js_kernel';
import { clearKernelCache } from '../src/engine/kernels/kernel_cache';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const ONLY_NET = process.argv.includes('--net');

let seq = 0;
function node(op: OpType, attrs: GraphNode['attrs'], weights: Record<string, number[]>): GraphNode {
  const w: Record<string, tf.Tensor> = {};
  for (const [k, shape] of Object.entries(weights)) {
    w[k] = k === 'variance' ? tf.randomUniform(shape, 0.5, 1.5) : tf.randomNormal(shape, 0, k === 'kernel' ? 0.1 : 1);
  }
  seq += 1;
  return { name: `${op}${seq}`, op, inputs: [], attrs, weights: w, sourceOp: op };
}

const conv = (k: number, ci: number, co: number, s = 1, bias = false): GraphNode =>
  node('conv2d', { strides: [s, s], padding: 'same' }, bias ? { kernel: [k, k, ci, co], bias: [co] } : { kernel: [k, k, ci, co] });
const bn = (c: number): GraphNode => node('batchNorm', { epsilon: 1e-3 }, { mean: [c], variance: [c], gamma: [c], beta: [c] });
const leaky = (): GraphNode => node('leakyRelu', { alpha: 0.1 }, {});
const pool = (k = 2, s = 2): GraphNode => node('maxPool', { kernel: [k, k], strides: [s, s], padding: 'same' }, {});

/** darknet-tiny's classifier body: conv/BN/leaky blocks, 2×2 max pools, 1×1 head, global average. */
function darknetTiny(): GraphNode[] {
  const block = (k: number, ci: number, co: number) => [conv(k, ci, co), bn(co), leaky()];
  return [
    ...block(3, 3, 16), pool(), ...block(3, 16, 32), pool(),
    ...block(1, 32, 16), ...block(3, 16, 128), ...block(1, 128, 16), ...block(3, 16, 128), pool(),
    ...block(1, 128, 32), ...block(3, 32, 256), ...block(1, 256, 32), ...block(3, 32, 256), pool(),
    ...block(1, 256, 64), ...block(3, 64, 512), ...block(1, 512, 64), ...block(3, 64, 512), ...block(1, 512, 128),
    conv(1, 128, 1000, 1, true), node('globalAvgPool', {}, {}),
  ];
}

/** Layers of ResNet / MobileNet that darknet lacks, with their input shapes. */
function otherLayers(): Array<[GraphNode, number[]]> {
  return [
    [conv(7, 3, 64, 2), [1, 224, 224, 3]],
    [conv(3, 64, 128, 2), [1, 56, 56, 64]],
    [conv(1, 64, 128, 2), [1, 56, 56, 64]],
    [conv(3, 3, 32, 2), [1, 224, 224, 3]],
    [node('depthwiseConv2d', { strides: [1, 1], padding: 'same' }, { kernel: [3, 3, 144, 1] }), [1, 56, 56, 144]],
    [node('depthwiseConv2d', { strides: [2, 2], padding: 'same' }, { kernel: [3, 3, 96, 1] }), [1, 112, 112, 96]],
    [node('relu6', {}, {}), [1, 112, 112, 96]],
    [pool(3, 2), [1, 112, 112, 64]],
  ];
}

function label(n: GraphNode, shape: number[]): string {
  const [, h, w, c] = shape;
  const at = `@${h}×${w}×${c}`;
  if (n.op === 'conv2d' || n.op === 'depthwiseConv2d') {
    const [kh, kw, , co] = n.weights.kernel.shape;
    const s = (n.attrs.strides as number[])[0];
    return `${n.op === 'conv2d' ? 'conv' : 'dwconv'} ${kh}×${kw}${s > 1 ? ` s${s}` : ''}${n.op === 'conv2d' ? ` →${co}` : ''} ${at}`;
  }
  if (n.op === 'maxPool') return `maxPool ${(n.attrs.kernel as number[])[0]}×${(n.attrs.kernel as number[])[0]} ${at}`;
  return `${n.op} ${at}`;
}

function withFast<T>(fast: boolean, f: () => T): T {
  setFastGradientsEnabled(fast);
  try {
    return f();
  } finally {
    setFastGradientsEnabled(true);
  }
}

const fmt = (v: number): string => v.toFixed(1).padStart(8);

/** Min ms of each job over `runs` rounds, the jobs interleaved so that load spikes hit them alike. */
function interleaved(jobs: Array<() => tf.Tensor>, runs: number): number[] {
  const best = jobs.map(() => Infinity);
  jobs.forEach((f) => f().dispose());
  for (let r = 0; r < runs; r++) {
    jobs.forEach((f, i) => {
      const t0 = performance.now();
      const out = f();
      out.dataSync();
      best[i] = Math.min(best[i], performance.now() - t0);
      out.dispose();
    });
  }
  return best;
}

function layerRow(n: GraphNode, shape: number[]): number[] {
  const x = tf.randomNormal(shape);
  const impl = (v: tf.Tensor) => OP_IMPLS[n.op]([v], n);
  const y = tf.tidy(() => impl(x));
  const dy = tf.randomNormal(y.shape);
  const fwd = (fast: boolean) => () => withFast(fast, () => tf.tidy(() => impl(x)));
  const vjp = (fast: boolean) => () => withFast(fast, () => tf.tidy(() => tf.grad((v) => tf.sum(tf.mul(impl(v), dy)))(x)));
  const [fb, fa, vb, va] = interleaved([fwd(false), fwd(true), vjp(false), vjp(true)], RUNS);
  console.log(`${label(n, shape).padEnd(34)}${fmt(fb)}${fmt(fa)}${fmt(vb)}${fmt(va)}${(vb / va).toFixed(1).padStart(7)}×`);
  tf.dispose([x, y, dy]);
  return [fb, fa, vb, va];
}

async function main(): Promise<void> {
  const backend = await initBackend('wasm');
  console.log(`backend ${backend}, ${RUNS} runs per figure (min ms); grad = forward + input-gradient pass (vjp);`
    + ' before = stock tfjs gradients, after = fast kernels');
  const nodes = darknetTiny();
  if (!ONLY_NET) {
    console.log(`${'layer'.padEnd(34)}${'fwd bef'.padStart(8)}${'fwd aft'.padStart(8)}${'grad bef'.padStart(8)}${'grad aft'.padStart(8)}  speed-up`);
    const totals = [0, 0, 0, 0];
    let shape = [1, 224, 224, 3];
    for (const n of nodes) {
      const row = layerRow(n, shape);
      row.forEach((v, i) => (totals[i] += v));
      shape = tf.tidy(() => OP_IMPLS[n.op]([tf.zeros(shape)], n)).shape;
    }
    console.log(`${'sum of darknet-like layers'.padEnd(34)}${totals.map(fmt).join('')}${(totals[2] / totals[3]).toFixed(1).padStart(7)}×`);
    for (const [n, s] of otherLayers()) layerRow(n, s);
  }
  // The whole stack through the executor: the input gradient of one logit, as a saliency method asks for it.
  nodes.forEach((n, i) => (n.inputs = [i === 0 ? 'input' : nodes[i - 1].name]));
  const graph: Graph = {
    format: 'tfjs-layers', input: { name: 'input', height: 224, width: 224, channels: 3, sourceLayout: 'NHWC' },
    output: nodes[nodes.length - 1].name, nodes, notes: [],
  };
  const exec = new GraphExecutor(graph);
  const x = tf.randomNormal([1, 224, 224, 3]);
  const logit = (v: tf.Tensor) => tf.sum(tf.slice(exec.run(v).output, [0, 281], [1, 1]));
  const stackJobs = [false, true].flatMap((fast) => [
    () => withFast(fast, () => tf.tidy(() => exec.run(x).output)),
    () => withFast(fast, () => tf.tidy(() => tf.grad(logit)(x))),
  ]);
  const [fb, gb, fa, ga] = interleaved(stackJobs, Math.max(3, Math.min(RUNS, 5)));
  console.log(`whole stack (min ms): forward ${fb.toFixed(1)} -> ${fa.toFixed(1)}, input gradient ${gb.toFixed(1)} -> ${ga.toFixed(1)}`
    + ` (${(gb / ga).toFixed(1)}× faster; gradient/forward ${(ga / fa).toFixed(2)})`);
  tf.dispose(x);
  clearKernelCache();
}

void main();
