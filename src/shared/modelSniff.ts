/** Tells whether a model.json text is a TF.js model, and which kind (pure: no TF.js, no file system). */

/** The kinds of TF.js model.json. */
export type ModelJsonKind = 'tfjs-layers' | 'tfjs-graph';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Classifies an already-parsed model.json object; null when it is not a TF.js model. */
export function classifyModelJson(json: unknown): ModelJsonKind | null {
  if (!isRecord(json) || !isRecord(json.modelTopology)) return null;
  if (json.weightsManifest !== undefined && !Array.isArray(json.weightsManifest)) return null;
  const topology = json.modelTopology;
  if (json.format === 'graph-model' || Array.isArray(topology.node)) {
    return Array.isArray(topology.node) ? 'tfjs-graph' : null;
  }
  const root = isRecord(topology.model_config) ? topology.model_config : topology;
  if (typeof root.class_name !== 'string') return null;
  const config = root.config;
  const hasLayers = Array.isArray(config) || (isRecord(config) && Array.isArray(config.layers));
  if (!hasLayers) return null;
  if (json.format !== undefined && json.format !== 'layers-model') return null;
  return 'tfjs-layers';
}

/**
 * Says whether a model.json text really is a TF.js model: 'tfjs-layers', 'tfjs-graph', or null for any
 * other JSON (package.json, tsconfig, a label list...) and for text that is not JSON.
 */
export function sniffModelJson(text: string): ModelJsonKind | null {
  // Cheap rejection before parsing a possibly large unrelated JSON file.
  if (!text.includes('"modelTopology"')) return null;
  try {
    return classifyModelJson(JSON.parse(text));
  } catch {
    return null;
  }
}
