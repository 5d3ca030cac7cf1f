/** A classifier loaded for attribution: graph, executor, input geometry, logits node and labels. */
import * as tf from '@tensorflow/tfjs-core';
import { statSync } from 'node:fs';
import { BadInputError } from '../shared/errors';
import type { LayerInfo, ModelInfo, PreprocessName, ResizeMode } from '../shared/protocol';
import { GraphExecutor } from './graph/executor';
import { disposeGraph, type Graph } from './graph/ir';
import { loadGraphFromFile } from './importers';
import { readModelSettings, type ModelSettings } from './image/preprocess';
import { loadLabels } from './labels';
import { clearKernelCache, subKernelBytes } from './kernels/kernel_cache';
import { collectGarbage } from './garbage';

/** Spatial size used when a model's input size is dynamic and nothing says otherwise. */
export const DEFAULT_DYNAMIC_SIZE = 224;
/** The preprocessing assumed when neither an option nor the model's settings file names one. */
export const DEFAULT_PREPROCESS: PreprocessName = 'unit';
/** The resize mode assumed when neither an option nor the model's settings file names one. */
export const DEFAULT_RESIZE: ResizeMode = 'squash';

/** A loaded classifier. Dispose it to free its weights. */
export class LoadedModel {
  readonly executor: GraphExecutor;
  /** The node whose output is used as class scores for attribution (pre-softmax when the graph ends in softmax). */
  readonly logitsNode: string;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  readonly scoring: 'softmax' | 'sigmoid';
  readonly labels: string[];
  readonly labelSource: string;
  readonly notes: string[];

  private constructor(
    readonly path: string, readonly graph: Graph, readonly settings: ModelSettings, readonly mtimeMs: number,
    readonly loadMs: number, labelsOverride?: string, fixedLabels?: string[],
  ) {
    this.executor = new GraphExecutor(graph);
    this.notes = [...graph.notes];
    this.channels = graph.input.channels;
    const [sh, sw] = settings.inputSize ?? [null, null];
    this.height = graph.input.height ?? sh ?? DEFAULT_DYNAMIC_SIZE;
    this.width = graph.input.width ?? sw ?? DEFAULT_DYNAMIC_SIZE;
    if (graph.input.height === null && !settings.inputSize) {
      this.notes.push(`dynamic input size; using ${this.height}×${this.width} (set inputSize in saliency-lens.json)`);
    }
    const out = this.executor.node(graph.output);
    const endsInSoftmax = out?.op === 'softmax';
    this.logitsNode = endsInSoftmax ? out!.inputs[0] : graph.output;
    if (endsInSoftmax) this.notes.push('the model ends in softmax: attributions use the pre-softmax scores');
    this.numClasses = this.probeClasses();
    this.scoring = this.numClasses === 1 || out?.op === 'sigmoid' ? 'sigmoid' : 'softmax';
    const labels = fixedLabels
      ? { labels: fixedLabels, source: 'model' }
      : loadLabels(path, this.numClasses, labelsOverride ?? settings.labels, graph.metadataLabels);
    this.labels = labels.labels;
    this.labelSource = labels.source;
  }

  /** Reads and imports a model file. */
  static async load(path: string, labelsOverride?: string): Promise<LoadedModel> {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      throw new BadInputError(path, 'model file not found');
    }
    const start = performance.now();
    const settings = readModelSettings(path);
    const graph = await loadGraphFromFile(path, { inputSize: settings.inputSize });
    try {
      const model = new LoadedModel(path, graph, settings, mtimeMs, performance.now() - start, labelsOverride);
      collectGarbage();
      return model;
    } catch (err) {
      disposeGraph(graph);
      throw err;
    }
  }

  /** Wraps a graph built in memory (tests, generated models); labels default to "class i". */
  static fromGraph(graph: Graph, options: { path?: string; settings?: ModelSettings; labels?: string[] } = {}): LoadedModel {
    const probe = options.labels ?? [];
    const model = new LoadedModel(options.path ?? '<memory>', graph, options.settings ?? {}, 0, 0, undefined, probe);
    if (!options.labels) model.labels.push(...Array.from({ length: model.numClasses }, (_, i) => `class ${i}`));
    return model;
  }

  /** Bytes of tensors this model holds: its weights and the kernel variants cached for them. */
  residentBytes(): number {
    const weights = new Map<object, tf.Tensor>();
    for (const node of this.graph.nodes) for (const w of Object.values(node.weights)) weights.set(w.dataId, w);
    let bytes = 0;
    for (const w of weights.values()) bytes += w.size * 4;
    return bytes + subKernelBytes(weights.values());
  }

  /** Class scores [N, classes] for an NHWC batch, as used for attribution (logits). */
  logits(x: tf.Tensor, options: Parameters<GraphExecutor['run']>[1] = {}): tf.Tensor2D {
    const y = this.executor.run(x, { ...options, output: this.logitsNode }).output;
    return (y.rank === 2 ? y : tf.reshape(y, [y.shape[0], -1])) as tf.Tensor2D;
  }

  /** Probabilities from logits, by the model's scoring (softmax or sigmoid). */
  probabilities(logits: tf.Tensor2D): tf.Tensor2D {
    return this.scoring === 'sigmoid' ? tf.sigmoid(logits) : tf.softmax(logits);
  }

  /** The model's input shape in its own layout, batch as -1. */
  inputShape(): number[] {
    return this.graph.input.sourceLayout === 'NCHW'
      ? [-1, this.channels, this.height, this.width]
      : [-1, this.height, this.width, this.channels];
  }

  /** Public description of the model. */
  info(preprocess: PreprocessName, preprocessSource: ModelInfo['preprocessSource']): ModelInfo {
    return {
      path: this.path, format: this.graph.format, inputShape: this.inputShape(), layout: this.graph.input.sourceLayout,
      numClasses: this.numClasses, scoring: this.scoring, labelSource: this.labelSource, preprocess, preprocessSource,
      mtimeMs: this.mtimeMs, notes: this.notes,
    };
  }

  /** Lists every node with its output shape (in the model's own layout), from one run on a blank input. */
  layers(): LayerInfo[] {
    this.layerList ??= this.computeLayers();
    return this.layerList;
  }

  /** Names of the nodes the class scores depend on (cached). */
  ancestorsOfLogits(): Set<string> {
    if (!this.ancestors) {
      const seen = new Set<string>();
      const stack = [this.logitsNode];
      while (stack.length) {
        const name = stack.pop()!;
        if (seen.has(name)) continue;
        seen.add(name);
        stack.push(...(this.executor.node(name)?.inputs ?? []));
      }
      this.ancestors = seen;
    }
    return this.ancestors;
  }

  private layerList?: LayerInfo[];
  private ancestors?: Set<string>;

  private computeLayers(): LayerInfo[] {
    return tf.tidy(() => {
      const names = this.graph.nodes.filter((n) => n.op !== 'const').map((n) => n.name);
      const { taps } = this.executor.run(tf.zeros([1, this.height, this.width, this.channels]), { taps: names });
      const nchw = this.graph.input.sourceLayout === 'NCHW';
      return this.graph.nodes.filter((n) => n.op !== 'const').map((n) => {
        const shape = taps.get(n.name)!.shape.slice();
        const spatial = shape.length === 4 && shape[1] > 1 && shape[2] > 1;
        const own = nchw && shape.length === 4 ? [shape[0], shape[3], shape[1], shape[2]] : shape;
        own[0] = -1;
        return { name: n.name, op: n.sourceOp, outputShape: own, spatial };
      });
    });
  }

  /** Frees the weights (and the derived kernels cached for them). */
  dispose(): void {
    disposeGraph(this.graph);
    clearKernelCache();
  }

  private probeClasses(): number {
    return tf.tidy(() => {
      let y: tf.Tensor;
      try {
        y = this.logits(tf.zeros([1, this.height, this.width, this.channels]), { release: true });
      } catch (err) {
        if (err instanceof BadInputError) throw err;
        throw new BadInputError(this.path, `the model does not run on a ${this.height}×${this.width}×${this.channels} input: ${(err as Error).message.split('\n')[0]}`);
      }
      return y.shape[1] ?? 1;
    });
  }
}
