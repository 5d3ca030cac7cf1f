// A stand-in for dist/engine.js speaking the same IPC protocol, for the engine client tests.
// Behaviour is chosen by the request's imagePath / modelPath: "crash", "hang", "slow", "bad", "stubborn"
// (ignores cancel), "log-only" (keeps logging but never answers); env FAKE_ENGINE_START=fail|hang|slow.
'use strict';

const start = process.env.FAKE_ENGINE_START || '';
const cancelled = new Set();
let busy = false;
const queue = [];

function send(msg) {
  if (process.connected) process.send(msg);
}

const CAM = ['gradcam', 'gradcam-plus-plus', 'hirescam', 'layercam', 'scorecam'];
const LAYERS = [
  { name: 'conv1', op: 'Conv2D', outputShape: [-1, 3, 4, 8], spatial: true },
  { name: 'conv2', op: 'Conv2D', outputShape: [-1, 2, 2, 8], spatial: true },
  { name: 'pool', op: 'GlobalAveragePooling2D', outputShape: [-1, 8], spatial: false },
  { name: 'logits', op: 'Dense', outputShape: [-1, 2], spatial: false },
];

// Like the engine: CAM methods answer a raw [h, w, 1] map at their layer (default the last spatial one),
// `options.metrics` adds faithfulness metrics, Integrated Gradients always reports its completeness gap.
function explainResult(params) {
  const w = 4;
  const h = 3;
  const input = new Uint8Array(w * h * 4).fill(200);
  const options = params.options || {};
  const cam = CAM.includes(params.method);
  const layer = cam || params.method === 'guided-gradcam' ? options.layer || 'conv2' : undefined;
  const [ah, aw, ac] = cam ? [2, 2, 1] : [h, w, 3];
  const attr = new Float32Array(ah * aw * ac).map((_, i) => i / (ah * aw * ac));
  let metrics;
  if (options.metrics) {
    const fractions = [0, 0.5, 1];
    metrics = {
      deletion: { fractions, scores: [0.9, 0.3, 0.1], auc: 0.4 },
      insertion: { fractions, scores: [0.2, 0.7, 0.9], auc: 0.625 },
      randomization: [{ layer: 'logits', spearman: 0.6 }, { layer: 'conv1', spearman: 0.1 }],
    };
  }
  if (params.method === 'integrated-gradients') metrics = { ...metrics, completeness: { sum: 0.99, delta: 1, gap: 0.01 } };
  return {
    backend: 'cpu',
    model: { path: params.modelPath, format: 'tfjs-layers', inputShape: [-1, h, w, 3], layout: 'NHWC', numClasses: 2, scoring: 'softmax', labelSource: 'model', preprocess: 'unit', preprocessSource: 'default', mtimeMs: 1700000000000, notes: [] },
    predictions: [{ index: 1, label: 'cat', probability: 0.9 }, { index: 0, label: 'dog', probability: 0.1 }],
    timingMs: { load: 1, inference: 1, attribution: 1 },
    method: params.method,
    target: { index: 1, label: 'cat' },
    input: { width: w, height: h, data: input.buffer },
    attribution: { height: ah, width: aw, channels: ac, data: attr.buffer, signed: !cam },
    layer,
    metrics,
  };
}

// Feature visualisation: a 2×2 RGBA image per filter whose grey level tells the step; two rounds of live
// `filterImages` (honouring cancel between them, 30 ms apart), then the result with before/after values.
function filterImage(index, step) {
  const data = new Uint8Array(2 * 2 * 4).fill(10 + 10 * step);
  return { index, before: 0.5, after: 5 + (index ?? 0), image: { width: 2, height: 2, data: data.buffer } };
}

function featureVis(req) {
  const p = req.params;
  const filters = req.type === 'dream' && !p.filters ? [null] : p.filters || Array.from({ length: p.count || 16 }, (_, i) => i);
  const steps = (p.options && p.options.steps) || 8;
  const slow = `${p.modelPath || ''}`.includes('slow');
  let round = 0;
  const tick = () => {
    if (cancelled.has(req.id)) {
      send({ type: 'error', id: req.id, kind: 'cancelled', message: 'cancelled' });
      finish(req);
      return;
    }
    round++;
    const step = Math.round((steps * round) / 2);
    send({ type: 'progress', id: req.id, fraction: round / 3, message: `step ${step}/${steps}` });
    send({ type: 'filterImages', id: req.id, step, steps, images: filters.map((i) => filterImage(i, round)) });
    if (round < 2 || (slow && round < 20)) {
      setTimeout(tick, 30);
      return;
    }
    const result = {
      backend: 'cpu', model: explainResult(p).model, layer: p.layer || 'conv2', objective: req.type === 'dream' && !p.filters ? 'layer' : 'channel',
      param: req.type === 'dream' ? 'input' : 'fourier', steps, filters: filters.map((i) => filterImage(i, 3)), timingMs: { load: 1, optimize: 2 },
    };
    send({ type: req.type === 'dream' ? 'dreamResult' : 'visualizeFiltersResult', id: req.id, result });
    finish(req);
  };
  setTimeout(tick, 5);
}

function finish(req) {
  busy = false;
  pump();
}

function handle(req) {
  busy = true;
  const what = `${req.params.imagePath || ''} ${req.params.modelPath || ''}`;
  if (what.includes('crash')) {
    send({ type: 'log', message: 'about to crash' });
    setTimeout(() => process.exit(3), 10);
    return;
  }
  if (what.includes('hang') || what.includes('stubborn')) return; // never answers, ignores cancel
  if (what.includes('log-only')) {
    setInterval(() => send({ type: 'log', message: 'still working' }), 20);
    return;
  }
  if (what.includes('bad')) {
    send({ type: 'error', id: req.id, kind: 'bad-input', message: `${req.params.imagePath}: not an image` });
    finish(req);
    return;
  }
  if (req.type === 'visualizeFilters' || req.type === 'dream') {
    featureVis(req);
    return;
  }
  // A "slow" request takes 10 progress steps of 30 ms and honours cancel between steps.
  const steps = what.includes('slow') ? 10 : 1;
  let step = 0;
  const tick = () => {
    if (cancelled.has(req.id)) {
      send({ type: 'error', id: req.id, kind: 'cancelled', message: 'cancelled' });
      finish(req);
      return;
    }
    step++;
    send({ type: 'progress', id: req.id, fraction: step / steps, message: `step ${step}` });
    if (step < steps) {
      setTimeout(tick, 30);
      return;
    }
    if (req.type === 'explain') send({ type: 'explainResult', id: req.id, result: explainResult(req.params) });
    else if (req.type === 'labels') send({ type: 'labelsResult', id: req.id, result: ['dog', 'cat'] });
    else if (req.type === 'layers') send({ type: 'layersResult', id: req.id, result: LAYERS });
    else send({ type: 'predictResult', id: req.id, result: { ...explainResult(req.params), pid: process.pid, threads: process.env.SALIENCY_LENS_THREADS, workers: process.env.SALIENCY_LENS_WORKERS } });
    finish(req);
  };
  setTimeout(tick, 5);
}

function pump() {
  if (busy || queue.length === 0) return;
  handle(queue.shift());
}

process.on('message', (msg) => {
  if (msg.type === 'shutdown') process.exit(0);
  if (msg.type === 'cancel') { cancelled.add(msg.id); return; }
  queue.push(msg);
  pump();
});
process.on('disconnect', () => process.exit(0));

if (start === 'fail') {
  console.error('no backend could be initialised');
  process.exit(1);
} else if (start !== 'hang') {
  setTimeout(() => send({ type: 'ready', backend: process.env.SALIENCY_LENS_BACKEND || 'cpu', pid: process.pid }), start === 'slow' ? 200 : 5);
}
