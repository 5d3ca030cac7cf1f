/** Test helper: a small, complete ExplainResult for tests of the panel and the webview state. */
import type { ExplainResult } from '../../src/shared/protocol';

/** A 2×2 vanilla result whose top-1 and target is "tabby" (#2), with any field overridden. */
export function fakeExplainResult(over: Partial<ExplainResult> = {}, modelPath = '/w/m/model.json'): ExplainResult {
  return {
    backend: 'wasm',
    model: { path: modelPath, format: 'tfjs-layers', inputShape: [-1, 2, 2, 3], layout: 'NHWC', numClasses: 3, scoring: 'softmax', labelSource: 'model', preprocess: 'unit', preprocessSource: 'default', mtimeMs: 1, notes: [] },
    predictions: [{ index: 2, label: 'tabby', probability: 0.7 }],
    timingMs: { load: 1, inference: 1, attribution: 1 },
    method: 'vanilla',
    target: { index: 2, label: 'tabby' },
    input: { width: 2, height: 2, data: new ArrayBuffer(16) },
    attribution: { width: 2, height: 2, channels: 3, data: new ArrayBuffer(48), signed: true },
    ...over,
  };
}
