/** Imports a TF.js Layers model (Keras 2/3 or tfjs-layers topology + weight shards) into the internal graph. */
import { BadInputError } from '../../shared/errors';
import { type Graph, disposeGraph } from '../graph/ir';
import type { KerasFlavour } from './layersActivations';
import { type LayerSpec, LayersGraphBuilder } from './layersBuilder';
import { convertLayer } from './layersConvert';
import { LayerWeights } from './layersWeights';
import { loadWeights } from './weights';

type Json = Record<string, unknown>;

interface LayerJson extends LayerSpec {
  inbound: TensorRef[][];
  /** The config as written: a list for Keras 2.1 nested Sequential models. */
  rawConfig: unknown;
}

/** A reference to the output `tensor` of call `node` of layer `layer`. */
interface TensorRef {
  layer: string;
  node: number;
  tensor: number;
}

const NESTED_MODELS = new Set(['Sequential', 'Model', 'Functional']);
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const refKey = (r: TensorRef): string => `${r.layer}\u0000${r.node}\u0000${r.tensor}`;

/** Parses a [name, nodeIndex, tensorIndex, kwargs?] list (Keras 2, tfjs-layers). */
function listRef(v: unknown): TensorRef | null {
  if (!Array.isArray(v) || typeof v[0] !== 'string') return null;
  return { layer: v[0], node: Number(v[1] ?? 0), tensor: Number(v[2] ?? 0) };
}

/** Collects keras_history references from Keras 3 call arguments, in order. */
function keras3Refs(v: unknown, out: TensorRef[]): void {
  if (Array.isArray(v)) {
    for (const item of v) keras3Refs(item, out);
  } else if (isRecord(v)) {
    const history = isRecord(v.config) ? v.config.keras_history : undefined;
    if (v.class_name === '__keras_tensor__' && Array.isArray(history)) {
      const r = listRef(history);
      if (r) out.push(r);
    } else {
      for (const item of Object.values(v)) keras3Refs(item, out);
    }
  }
}

function parseInbound(v: unknown): TensorRef[][] {
  if (!Array.isArray(v)) return [];
  return v.map((call) => {
    if (isRecord(call)) {
      const refs: TensorRef[] = [];
      keras3Refs(call.args, refs);
      return refs;
    }
    if (!Array.isArray(call)) return [];
    const direct = listRef(call);
    if (direct) return [direct];
    return call.map(listRef).filter((r): r is TensorRef => r !== null);
  });
}

/** Input/output layer lists: [[name, 0, 0], ...] or a single flattened [name, 0, 0]. */
function parseEndpoints(v: unknown): TensorRef[] {
  if (!Array.isArray(v)) return [];
  const single = listRef(v);
  if (single) return [single];
  return v.map(listRef).filter((r): r is TensorRef => r !== null);
}

function parseLayer(subject: string, v: unknown): LayerJson {
  if (!isRecord(v) || typeof v.class_name !== 'string') throw new BadInputError(subject, 'a layer in modelTopology has no class_name');
  const config = isRecord(v.config) ? v.config : {};
  const name = typeof v.name === 'string' ? v.name : typeof config.name === 'string' ? config.name : undefined;
  if (!name) throw new BadInputError(subject, `a ${v.class_name} layer has no name`);
  return { className: v.class_name, name, config, inbound: parseInbound(v.inbound_nodes), rawConfig: v.config };
}

/** Walks (possibly nested) Keras models, emitting nodes through the builder. */
class TopologyWalker {
  constructor(private readonly b: LayersGraphBuilder) {}

  /** Expands a model; `bound` are the outer tensors feeding a nested model (null at the top). */
  model(className: string, config: unknown, bound: string[] | null): string {
    if (className === 'Sequential') return this.sequential(config, bound);
    if (!isRecord(config) || !Array.isArray(config.layers)) return this.b.fail(`${className} config has no layers`);
    return this.functional(config, bound);
  }

  private call(layer: LayerJson, inputs: string[], outName: string): string {
    if (NESTED_MODELS.has(layer.className)) {
      const inner = this.model(layer.className, layer.rawConfig, inputs);
      // A named node for the nested model's output lets taps address it by the outer layer name.
      return this.b.emit(outName, 'identity', [inner], this.b.shapeOf(inner), layer);
    }
    return convertLayer(this.b, layer, inputs, outName);
  }

  private sequential(config: unknown, bound: string[] | null): string {
    const raw = Array.isArray(config) ? config : isRecord(config) && Array.isArray(config.layers) ? config.layers : null;
    if (!raw || raw.length === 0) return this.b.fail('Sequential model has no layers');
    const layers = raw.map((l) => parseLayer(this.b.subject, l));
    let start = layers[0].className === 'InputLayer' ? 1 : 0;
    let x: string;
    if (bound) {
      x = bound[0];
    } else if (start === 1) {
      x = this.b.createInput(layers[0].name, inputShapeOf(layers[0]));
    } else {
      x = this.b.createInput(`${layers[0].name}_input`, inputShapeOf(layers[0]));
    }
    for (; start < layers.length; start++) x = this.call(layers[start], [x], layers[start].name);
    return x;
  }

  private functional(config: Json, bound: string[] | null): string {
    const layers = (config.layers as unknown[]).map((l) => parseLayer(this.b.subject, l));
    const byName = new Map(layers.map((l) => [l.name, l]));
    const inputs = parseEndpoints(config.input_layers);
    const outputs = parseEndpoints(config.output_layers);
    if (inputs.length === 0 || outputs.length === 0) this.b.fail('functional model lacks input_layers or output_layers');
    if (outputs.length > 1) this.b.notes.push(`model has ${outputs.length} outputs; using the first (${outputs[0].layer})`);
    const tensors = new Map<string, string>();
    inputs.forEach((ref, i) => {
      const layer = byName.get(ref.layer) ?? this.b.fail(`input layer "${ref.layer}" is not in the model`);
      if (bound && i >= bound.length) this.b.fail(`nested model input "${ref.layer}" is not connected`);
      tensors.set(refKey(ref), bound ? bound[i] : this.b.createInput(layer.name, inputShapeOf(layer)));
    });
    const pending: { layer: LayerJson; node: number; refs: TensorRef[] }[] = [];
    for (const layer of layers) {
      if (layer.className === 'InputLayer') continue;
      layer.inbound.forEach((refs, node) => pending.push({ layer, node, refs }));
    }
    // Configs are usually topologically ordered; this loop also copes with ones that are not.
    while (pending.length > 0) {
      const before = pending.length;
      for (let i = 0; i < pending.length; i++) {
        const { layer, node, refs } = pending[i];
        const inputNames = refs.map((r) => tensors.get(refKey(r)));
        if (inputNames.some((n) => n === undefined)) continue;
        if (refs.length === 0) this.b.fail(`layer "${layer.name}" (${layer.className}) has no inputs`);
        const outName = node === 0 ? layer.name : `${layer.name}_call${node}`;
        tensors.set(refKey({ layer: layer.name, node, tensor: 0 }), this.call(layer, inputNames as string[], outName));
        pending.splice(i--, 1);
      }
      if (pending.length === before) {
        const stuck = pending[0];
        const missing = stuck.refs.find((r) => !tensors.has(refKey(r)))!;
        const why = missing.tensor > 0 ? `output ${missing.tensor} of "${missing.layer}" (multi-output layers are not supported)` : `"${missing.layer}"`;
        this.b.fail(`layer "${stuck.layer.name}" (${stuck.layer.className}) takes ${why}, which the model never computes`);
      }
    }
    const out = tensors.get(refKey(outputs[0]));
    if (!out) return this.b.fail(`output layer "${outputs[0].layer}" is never computed`);
    return out;
  }
}

/** The batch input shape declared on a layer, or on the first layer of a nested model. */
function inputShapeOf(layer: LayerJson): unknown {
  const c = layer.config;
  if (Array.isArray(c.batch_input_shape)) return c.batch_input_shape;
  if (Array.isArray(c.batch_shape)) return c.batch_shape;
  if (Array.isArray(c.input_shape)) return [null, ...c.input_shape];
  if (NESTED_MODELS.has(layer.className)) {
    const inner = Array.isArray(layer.rawConfig) ? layer.rawConfig : Array.isArray(c.layers) ? c.layers : [];
    const first = inner[0];
    if (isRecord(first) && typeof first.class_name === 'string') {
      return inputShapeOf(parseLayer('', { ...first, name: 'inner' }));
    }
  }
  return undefined;
}

/** Reads the model class and config from both topology layouts (Keras `model_config` wrapper or direct). */
function topologyRoot(subject: string, topology: unknown): { className: string; config: unknown; version: string } {
  if (!isRecord(topology)) throw new BadInputError(subject, 'modelTopology is not an object');
  const root = isRecord(topology.model_config) ? topology.model_config : topology;
  if (typeof root.class_name !== 'string') throw new BadInputError(subject, 'modelTopology has no model class_name');
  if (!NESTED_MODELS.has(root.class_name)) throw new BadInputError(subject, `unsupported model class ${root.class_name}`);
  const version = String(topology.keras_version ?? root.keras_version ?? '');
  return { className: root.class_name, config: root.config, version };
}

/** Which Keras generation wrote the topology, from its keras_version string. */
export function kerasFlavour(version: string): KerasFlavour {
  const tfjs = version.startsWith('tfjs');
  const m = /^(\d+)\.(\d+)/.exec(version);
  const major = m ? Number(m[1]) : 2;
  const minor = m ? Number(m[2]) : 3;
  return { keras3: !tfjs && major >= 3, legacyResize: tfjs || (major === 2 && minor < 3 && !version.includes('-tf')) || major < 2 };
}

/** Imports a Layers-format model.json (already parsed) whose weight shards sit beside it. */
export async function importLayersModel(modelJsonPath: string, json: unknown): Promise<Graph> {
  if (!isRecord(json)) throw new BadInputError(modelJsonPath, 'model.json is not a JSON object');
  const root = topologyRoot(modelJsonPath, json.modelTopology);
  const weights = new LayerWeights(modelJsonPath, await loadWeights(modelJsonPath, json.weightsManifest));
  const builder = new LayersGraphBuilder(modelJsonPath, weights, kerasFlavour(root.version));
  try {
    const output = new TopologyWalker(builder).model(root.className, root.config, null);
    if (!builder.input) builder.fail('model has no input layer');
    weights.disposeUnused();
    return { format: 'tfjs-layers', input: builder.input!, output, nodes: builder.nodes, notes: builder.notes };
  } catch (err) {
    disposeGraph({ format: 'tfjs-layers', input: builder.input!, output: '', nodes: builder.nodes, notes: [] });
    weights.disposeAll();
    throw err;
  }
}
