/** Runs an internal graph with plain differentiable ops, with activation hooks and taps. */
import * as tf from '@tensorflow/tfjs-core';
import { BadInputError } from '../../shared/errors';
import { type Graph, type GraphNode, RELU_FAMILY } from './ir';
import { OP_IMPLS } from './ops';

/**
 * Replaces a ReLU-family activation during a run. `forward` computes the original activation; the hook
 * returns a tensor with the same forward value and whatever gradient it wants (e.g. guided backprop).
 */
export type ActivationHook = (node: GraphNode, x: tf.Tensor, forward: (x: tf.Tensor) => tf.Tensor) => tf.Tensor;

/** Options of one run. */
export interface RunOptions {
  /** Applied at every ReLU-family node (relu, relu6, clip, leakyRelu, prelu, elu). */
  activationHook?: ActivationHook;
  /** Node names whose outputs are returned in `taps`. */
  taps?: string[];
  /** Tensors that replace the outputs of the named nodes (for gradients with respect to a layer). */
  feeds?: Map<string, tf.Tensor>;
  /** The node to return instead of the graph's output. */
  output?: string;
  /**
   * Dispose intermediates as soon as their last consumer ran. Only for runs that are not differentiated:
   * inside tf.grad the tape still needs them.
   */
  release?: boolean;
}

/** What a run returns. */
export interface RunResult {
  output: tf.Tensor;
  taps: Map<string, tf.Tensor>;
}

/** Executes a Graph. Stateless between runs except for precomputed consumer counts. */
export class GraphExecutor {
  private readonly byName = new Map<string, GraphNode>();
  private readonly index = new Map<string, number>();

  constructor(readonly graph: Graph) {
    graph.nodes.forEach((n, i) => {
      this.byName.set(n.name, n);
      this.index.set(n.name, i);
    });
  }

  /** The node with this name, or undefined. */
  node(name: string): GraphNode | undefined {
    return this.byName.get(name);
  }

  /** Runs the graph on an NHWC batch. The caller owns (and disposes, or tidies) every returned tensor. */
  run(x: tf.Tensor, options: RunOptions = {}): RunResult {
    const outputName = options.output ?? this.graph.output;
    const wanted = new Set([outputName, ...(options.taps ?? [])]);
    for (const name of wanted) {
      if (!this.byName.has(name)) throw new BadInputError(name, 'no layer or node of this name in the model');
    }
    const needed = this.neededNodes(wanted, options.feeds);
    const remaining = new Map<string, number>();
    if (options.release) {
      for (const n of this.graph.nodes) {
        if (!needed.has(n.name)) continue;
        for (const i of n.inputs) remaining.set(i, (remaining.get(i) ?? 0) + 1);
      }
    }
    const values = new Map<string, tf.Tensor>([[this.graph.input.name, x]]);
    const owned = new Set<string>();
    const last = Math.max(...[...wanted].map((w) => this.index.get(w)!));
    for (let i = 0; i <= last; i++) {
      const node = this.graph.nodes[i];
      if (!needed.has(node.name)) continue;
      const fed = options.feeds?.get(node.name);
      if (fed) {
        values.set(node.name, fed);
        continue;
      }
      const inputs = node.inputs.map((name) => {
        const v = values.get(name);
        if (!v) throw new Error(`internal: input ${name} of ${node.name} not computed`);
        return v;
      });
      values.set(node.name, this.apply(node, inputs, options.activationHook));
      if (node.op !== 'const') owned.add(node.name);
      if (options.release) this.releaseInputs(node, remaining, values, owned, wanted);
    }
    const taps = new Map<string, tf.Tensor>();
    for (const t of options.taps ?? []) taps.set(t, values.get(t)!);
    return { output: values.get(outputName)!, taps };
  }

  private apply(node: GraphNode, inputs: tf.Tensor[], hook: ActivationHook | undefined): tf.Tensor {
    const impl = OP_IMPLS[node.op];
    if (!impl) throw new BadInputError(node.name, `unsupported op ${node.sourceOp} (internal ${node.op})`);
    if (hook && RELU_FAMILY.has(node.op)) return hook(node, inputs[0], (v) => impl([v, ...inputs.slice(1)], node));
    return impl(inputs, node);
  }

  private releaseInputs(node: GraphNode, remaining: Map<string, number>, values: Map<string, tf.Tensor>,
    owned: Set<string>, wanted: Set<string>): void {
    for (const name of node.inputs) {
      const left = (remaining.get(name) ?? 0) - 1;
      remaining.set(name, left);
      if (left <= 0 && owned.has(name) && !wanted.has(name)) {
        values.get(name)!.dispose();
        values.delete(name);
      }
    }
  }

  /** Nodes on which the wanted outputs depend, stopping at fed nodes. */
  private neededNodes(wanted: Set<string>, feeds?: Map<string, tf.Tensor>): Set<string> {
    const needed = new Set<string>();
    const stack = [...wanted];
    while (stack.length) {
      const name = stack.pop()!;
      if (needed.has(name)) continue;
      const node = this.byName.get(name);
      if (!node) continue;
      needed.add(name);
      if (feeds?.has(name)) continue;
      stack.push(...node.inputs);
    }
    return needed;
  }
}
