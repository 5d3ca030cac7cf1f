/**
 * Entry point of the long-lived engine process forked by the extension (like tsserver). Speaks the protocol
 * of src/shared/protocol.ts over Node IPC with advanced serialisation (ArrayBuffers travel as they are).
 */
import { CancelledError, isBadInput, oneLine } from '../shared/errors';
import { countOf } from '../shared/text';
import type { BackendName, EngineMessage, EngineRequest, FeatureVisRequest } from '../shared/protocol';
import { Engine } from './engine';
import { dream, visualizeFilters, type FeatureVisControl } from './featureVis';
import { parseBackendName, threadsLabel, threadsNote } from './backend';

function send(message: EngineMessage): void {
  process.send?.(message);
}

const cancelled = new Set<number>();
type AnyRequest = EngineRequest | FeatureVisRequest;
const queue: AnyRequest[] = [];
let running = false;
let current: number | undefined;

async function handle(engine: Engine, request: Exclude<AnyRequest, { type: 'cancel' } | { type: 'shutdown' }>): Promise<void> {
  const id = request.id;
  const control: FeatureVisControl = {
    onProgress: (fraction, message) => send({ type: 'progress', id, fraction, message }),
    isCancelled: () => cancelled.has(id),
    onImages: (step, steps, images) => send({ type: 'filterImages', id, step, steps, images }),
  };
  const start = performance.now();
  current = id;
  try {
    if (cancelled.has(id)) throw new CancelledError();
    switch (request.type) {
      case 'predict':
        send({ type: 'predictResult', id, result: await engine.predict(request.params, control) });
        break;
      case 'explain': {
        const helperChunks = engine.helpers.chunksByHelpers;
        const result = await engine.explain(request.params, control);
        send({ type: 'explainResult', id, result });
        const helped = engine.helpers.chunksByHelpers - helperChunks;
        send({ type: 'log', message: `explain ${request.params.method} on ${request.params.imagePath}: load ${result.timingMs.load.toFixed(0)} ms, inference ${result.timingMs.inference.toFixed(0)} ms, attribution ${result.timingMs.attribution.toFixed(0)} ms (${engine.backend}${helped ? `, ${countOf(helped, 'chunk')} on the gradient helper` : ''})` });
        break;
      }
      case 'layers':
        send({ type: 'layersResult', id, result: await engine.layers(request.params.modelPath) });
        break;
      case 'labels':
        send({ type: 'labelsResult', id, result: await engine.labels(request.params) });
        break;
      case 'visualizeFilters':
        send({ type: 'visualizeFiltersResult', id, result: await visualizeFilters(engine, request.params, control) });
        break;
      case 'dream':
        send({ type: 'dreamResult', id, result: await dream(engine, request.params, control) });
        break;
    }
  } catch (err) {
    const kind = err instanceof CancelledError ? 'cancelled' : isBadInput(err) ? 'bad-input' : 'internal';
    send({ type: 'error', id, kind, message: oneLine(err) });
    if (kind === 'internal') send({ type: 'log', message: `internal error in request ${id}: ${(err as Error)?.stack ?? err}` });
  } finally {
    current = undefined;
    cancelled.delete(id);
    send({ type: 'log', message: `request ${id} (${request.type}) took ${(performance.now() - start).toFixed(0)} ms` });
  }
}

async function drain(engine: Engine): Promise<void> {
  if (running) return;
  running = true;
  while (queue.length) {
    const next = queue.shift()!;
    if (next.type === 'cancel' || next.type === 'shutdown') continue;
    await handle(engine, next);
  }
  running = false;
}

async function main(): Promise<void> {
  if (!process.send) {
    console.error('saliency-lens engine: this entry point is meant to be forked with an IPC channel (use dist/cli.js on a terminal)');
    process.exit(2);
  }
  let engine: Engine;
  try {
    engine = await Engine.create(parseBackendName(process.env.SALIENCY_LENS_BACKEND, 'SALIENCY_LENS_BACKEND') as BackendName | 'auto', {
      log: (message) => send({ type: 'log', message }),
    });
  } catch (err) {
    send({ type: 'log', message: `engine failed to start: ${oneLine(err)}` });
    process.exit(1);
  }
  process.on('message', (raw: AnyRequest) => {
    if (raw.type === 'shutdown') {
      engine.dispose();
      process.exit(0);
    }
    if (raw.type === 'cancel') {
      // Only requests still queued or running can be cancelled; others have already answered.
      if (raw.id === current || queue.some((q) => 'id' in q && q.id === raw.id)) cancelled.add(raw.id);
      return;
    }
    queue.push(raw);
    void drain(engine);
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', backend: engine.backend, pid: process.pid });
  const threads = threadsLabel();
  const note = threadsNote();
  const helpers = engine.helpers.size ? `, ${countOf(engine.helpers.size, 'gradient helper')}` : '';
  if (threads !== undefined) send({ type: 'log', message: `${engine.backend} backend on ${threads}${helpers}${note ? ` (${note})` : ''}` });
}

void main();
