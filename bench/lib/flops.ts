/** Multiply–accumulate counts of a model's convolutions and dense layers, and the FLOPs each method needs. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend';
import { LoadedModel } from '../../src/engine/model';

/** MAC counts of one forward pass at batch 1. */
export interface ModelFlops {
  /** All conv2d / depthwise / transposed conv / dense MACs. */
  macs: number;
  /** Dense (non-depthwise) convolutions, including 1×1. */
  convMacs: number;
  depthwiseMacs: number;
  denseMacs: number;
  /** Number of conv-like nodes. */
  convNodes: number;
  /** Nodes of any other op (elementwise, pooling, batch norm, ...): memory-bound work the MACs ignore. */
  otherNodes: number;
  inputShape: [number, number, number];
  /** MACs of the forward pass up to each requested layer (the layer and the nodes it depends on). */
  layerMacs: Record<string, number>;
}

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Loads a model on wasm (else cpu) and counts MACs from its nodes' weights and output shapes, also up to `layers`. */
export async function countModelFlops(modelPath: string, layers: string[] = []): Promise<ModelFlops> {
  if (!tf.getBackend() || tf.getBackend() === 'cpu') {
    try {
      await initBackend('wasm');
    } catch {
      await initBackend('cpu');
    }
  }
  const model = await LoadedModel.load(modelPath);
  try {
    const nodes = model.graph.nodes.filter((n) => n.op !== 'const');
    const shapes = new Map<string, number[]>();
    tf.tidy(() => {
      const { taps } = model.executor.run(tf.zeros([1, model.height, model.width, model.channels]), { taps: nodes.map((n) => n.name) });
      for (const [k, v] of taps) shapes.set(k, v.shape.slice());
    });
    const f: ModelFlops = {
      macs: 0, convMacs: 0, depthwiseMacs: 0, denseMacs: 0, convNodes: 0, otherNodes: 0,
      inputShape: [model.height, model.width, model.channels], layerMacs: {},
    };
    const nodeMacs = new Map<string, number>();
    for (const n of nodes) {
      const before = f.convMacs + f.depthwiseMacs + f.denseMacs;
      const out = shapes.get(n.name) ?? [];
      const kernel = n.weights.kernel?.shape;
      if (n.op === 'conv2d' && kernel) {
        const m = prod(out.slice(1)) * prod(kernel.slice(0, 3));
        f.convMacs += m;
        f.convNodes += 1;
      } else if (n.op === 'depthwiseConv2d' && kernel) {
        f.depthwiseMacs += prod(out.slice(1)) * prod(kernel.slice(0, 2));
        f.convNodes += 1;
      } else if (n.op === 'conv2dTranspose' && kernel) {
        const input = shapes.get(n.inputs[0]) ?? [];
        f.convMacs += prod(input.slice(1)) * prod(kernel.slice(0, 3));
        f.convNodes += 1;
      } else if (n.op === 'dense' && kernel) {
        f.denseMacs += prod(out.slice(1)) * kernel[0];
      } else {
        f.otherNodes += 1;
      }
      nodeMacs.set(n.name, f.convMacs + f.depthwiseMacs + f.denseMacs - before);
    }
    for (const layer of layers) {
      const seen = new Set<string>();
      const stack = [layer];
      while (stack.length) {
        const name = stack.pop()!;
        if (seen.has(name)) continue;
        seen.add(name);
        stack.push(...(model.executor.node(name)?.inputs ?? []));
      }
      if (model.executor.node(layer)) f.layerMacs[layer] = [...seen].reduce((sum, name) => sum + (nodeMacs.get(name) ?? 0), 0);
    }
    f.macs = f.convMacs + f.depthwiseMacs + f.denseMacs;
    return f;
  } finally {
    model.dispose();
  }
}

/** Method options that change the amount of work. */
export interface WorkOptions {
  samples: number;
  steps: number;
  /** Feature visualisation: the layer, steps per image (filters) and the dream's steps per octave, octaves and ratio. */
  featureLayer?: string;
  filterSteps: number;
  dream: { steps: number; octaves: number; octaveScale: number };
}

/**
 * FLOPs (2 per MAC) of one attribution. A forward pass costs F = 2·MACs; the input gradient of every conv
 * and dense layer costs as much again as its forward (no weight gradients), so one gradient ≈ 2F.
 * Grad-CAM: a forward plus a backward through the few layers after the CAM layer ≈ F. Undefined when unknown.
 */
export function methodFlops(method: string, f: ModelFlops, w: WorkOptions): number | undefined {
  const F = 2 * f.macs;
  switch (method) {
    case 'predict': return F;
    case 'gradcam': return F;
    case 'vanilla':
    case 'guided': return 2 * F;
    case 'smoothgrad': return w.samples * 2 * F;
    case 'integrated-gradients': return w.steps * 2 * F + 2 * F;
    case 'activation-maximization':
    case 'deep-dream': {
      const FL = w.featureLayer !== undefined && f.layerMacs[w.featureLayer] !== undefined ? 2 * f.layerMacs[w.featureLayer] : undefined;
      if (FL === undefined) return undefined;
      // Each step: a forward to the layer and the input gradient (≈ 2 FL). Around them: the layer check on a
      // blank image, the objective of the start image and of the result (3 FL). A dream's smaller octaves cost
      // in proportion to their area, plus one size check each.
      if (method === 'activation-maximization') return w.filterSteps * 2 * FL + 3 * FL;
      const [h, wd] = f.inputShape;
      let total = 3 * FL;
      for (let o = w.dream.octaves - 1; o >= 0; o--) {
        const area = (Math.round(h / w.dream.octaveScale ** o) * Math.round(wd / w.dream.octaveScale ** o)) / (h * wd);
        total += area * (w.dream.steps * 2 * FL + (o > 0 ? FL : 0));
      }
      return total;
    }
    default: return undefined;
  }
}
