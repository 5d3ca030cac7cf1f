/** The saliency-lens command line: a thin front end on the engine. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { BadInputError, isBadInput, oneLine } from '../shared/errors';
import { encodeNpy } from '../shared/npy';
import { CAM_METHODS, type BackendName, type ExplainResult, type LayerInfo, type PredictResult } from '../shared/protocol';
import { Engine } from '../engine/engine';
import { backendKernelThreads, backendThreads, parseBackendName, parseKernelWorkers, setKernelWorkersOption, threadsLabel, parseThreads, parseWorkers, setGradientWorkers, setWasmThreads, threadsNote } from '../engine/backend';
import { parseMethod } from '../engine/methods';
import {
  colormapOption, methodOptions, numberOption, parseCommandLine, preprocessOption, reduceOption, resizeOption, targetOption, type CliArgs,
} from './args';
import { HELP } from './help';
import packageJson from '../../package.json';
import { writeExplainFigures } from './figures';
import { benchCommand } from './bench';
import { dreamCommand, filtersCommand } from './filters';

/** The folder holding the embedded demo (media/demo), found relative to this file (dist/ or src/cli/). */
function demoDir(): string {
  for (const base of [join(__dirname, '..', 'media', 'demo'), join(__dirname, '..', '..', 'media', 'demo')]) {
    if (existsSync(base)) return base;
  }
  throw new BadInputError('media/demo', 'the embedded demo model is missing from this installation');
}

function modelPathOf(args: CliArgs): string {
  return resolve(args.values.model ?? join(demoDir(), 'model', 'model.json'));
}

function inputs(args: CliArgs): { imagePath: string; modelPath: string } {
  const imagePath = args.positionals[0] ?? join(demoDir(), 'demo.png');
  return { imagePath: resolve(imagePath), modelPath: modelPathOf(args) };
}

function printPredictions(result: PredictResult): void {
  const m = result.model;
  console.log(`model ${m.path} (${m.format}, input ${m.inputShape.join('×')} ${m.layout}, preprocess ${m.preprocess} [${m.preprocessSource}], backend ${backendLabel(result.backend)})`);
  for (const note of m.notes) console.log(`note: ${note}`);
  if (m.labelSource === 'imagenet-guess') console.log('note: labels are the standard ImageNet-1k names (a guess: no labels file beside the model)');
  console.log(`${m.scoring === 'sigmoid' ? 'sigmoid scores' : 'softmax probabilities'}:`);
  for (const p of result.predictions) console.log(`  ${(p.probability * 100).toFixed(2).padStart(6)}%  ${String(p.index).padStart(4)}  ${p.label}`);
}

async function predict(engine: Engine, args: CliArgs): Promise<void> {
  const { imagePath, modelPath } = inputs(args);
  const result = await engine.predict({
    imagePath, modelPath, topK: numberOption(args.values.top, '--top', 1, 100000, 5),
    labelsPath: args.values.labels, preprocess: preprocessOption(args.values.preprocess), resize: resizeOption(args.values.resize),
  });
  if (args.values.json) console.log(JSON.stringify(jsonOf(result)));
  else printPredictions(result);
}

/** The backend with its thread count, for text output. */
function backendLabel(backend: BackendName): string {
  const threads = threadsLabel();
  return threads === undefined ? backend : `${backend}, ${threads}`;
}

function jsonOf(result: PredictResult | ExplainResult, outputs?: string[]): Record<string, unknown> {
  const m = result.model;
  const base: Record<string, unknown> = {
    backend: result.backend,
    threads: backendThreads(),
    kernelThreads: backendKernelThreads(),
    model: { path: m.path, format: m.format, inputShape: m.inputShape, layout: m.layout, numClasses: m.numClasses,
      scoring: m.scoring, labelSource: m.labelSource, notes: m.notes },
    preprocess: { preset: m.preprocess, source: m.preprocessSource },
    predictions: result.predictions,
  };
  if ('method' in result) {
    Object.assign(base, { target: result.target, method: result.method, timingMs: result.timingMs, outputs: outputs ?? [] });
    if (result.layer) base.layer = result.layer;
    if (result.metrics) base.metrics = result.metrics;
  } else {
    base.timingMs = result.timingMs;
  }
  return base;
}

async function explain(engine: Engine, args: CliArgs): Promise<void> {
  const { imagePath, modelPath } = inputs(args);
  const display = {
    reduce: reduceOption(args.values.reduce),
    colormap: colormapOption(args.values.colormap),
    alpha: numberOption(args.values.alpha, '--alpha', 0, 1, 0.5),
    clipPercentile: numberOption(args.values.clip, '--clip', 50, 100, 99),
  };
  const method = parseMethod(args.values.method ?? 'vanilla');
  const rawPath = args.values.raw ? resolve(args.values.raw) : undefined;
  if (rawPath && extname(rawPath) !== '.npy') throw new BadInputError(args.values.raw!, '--raw expects a .npy file name');
  const result = await engine.explain({
    imagePath, modelPath, method, options: methodOptions(args.values), target: targetOption(args.values.target), topK: numberOption(args.values.top, '--top', 1, 100000, 5),
    labelsPath: args.values.labels, preprocess: preprocessOption(args.values.preprocess), resize: resizeOption(args.values.resize),
  });
  const outDir = resolve(args.values.out ?? 'saliency-lens-out');
  mkdirSync(outDir, { recursive: true });
  const stem = `${basename(imagePath, extname(imagePath))}.${method}`;
  const outputs = await writeExplainFigures(result, display, outDir, stem);
  if (rawPath) {
    const a = result.attribution;
    mkdirSync(dirname(rawPath), { recursive: true });
    // CAM maps are written as [h, w] at layer resolution; input attributions as [H, W, C].
    const shape = CAM_METHODS.includes(method) ? [a.height, a.width] : [a.height, a.width, a.channels];
    writeFileSync(rawPath, encodeNpy(new Float32Array(a.data), shape));
    outputs.push(rawPath);
  }
  if (args.values.json) {
    console.log(JSON.stringify(jsonOf(result, outputs)));
    return;
  }
  printPredictions(result);
  console.log(`${method} map for class ${result.target.index} (${result.target.label})${result.layer ? ` at layer ${result.layer}` : ''} in ${result.timingMs.attribution.toFixed(0)} ms`);
  printMetrics(result);
  for (const o of outputs) console.log(`wrote ${o}`);
}

function printMetrics(result: ExplainResult): void {
  const m = result.metrics;
  if (!m) return;
  if (m.completeness) console.log(`completeness: Σ attribution ${m.completeness.sum.toPrecision(5)} vs f(x) − f(x₀) ${m.completeness.delta.toPrecision(5)} (gap ${(m.completeness.gap * 100).toFixed(2)}%)`);
  if (m.deletion) console.log(`deletion AUC ${m.deletion.auc.toFixed(4)} (lower is better), insertion AUC ${m.insertion?.auc.toFixed(4)} (higher is better)`);
  if (m.randomization) {
    console.log('randomisation check (Spearman ρ with the original map after re-initialising from the top down to):');
    for (const r of m.randomization) console.log(`  ${r.layer}: ${r.spearman.toFixed(3)}`);
  }
}

function printLayers(layers: LayerInfo[]): void {
  const width = Math.max(...layers.map((l) => l.name.length), 4);
  for (const l of layers) {
    console.log(`${l.name.padEnd(width)}  ${l.op.padEnd(24)}  ${l.outputShape ? `[${l.outputShape.join(', ')}]` : '?'}${l.spatial ? '' : '  (no spatial output)'}`);
  }
}

async function layers(engine: Engine, args: CliArgs): Promise<void> {
  const modelPath = modelPathOf(args);
  const list = await engine.layers(modelPath);
  if (args.values.json) console.log(JSON.stringify({ model: modelPath, layers: list }));
  else printLayers(list);
}

const COMMANDS: Record<string, (engine: Engine, args: CliArgs) => Promise<void>> = {
  predict, explain, layers,
  bench: (engine, args) => benchCommand(engine, args, modelPathOf(args)),
  filters: (engine, args) => filtersCommand(engine, args, modelPathOf(args)),
  dream: (engine, args) => dreamCommand(engine, args, inputs(args).modelPath, inputs(args).imagePath),
};

async function main(argv: string[]): Promise<number> {
  let args: CliArgs | undefined;
  try {
    args = parseCommandLine(argv);
    if (args.values.version) {
      console.log(packageJson.version);
      return 0;
    }
    if (args.values.help || !args.command) {
      process.stdout.write(HELP);
      return args.command || args.values.help ? 0 : 2;
    }
    const command = COMMANDS[args.command];
    if (!command) throw new BadInputError(args.command, `unknown command (expected ${Object.keys(COMMANDS).join(', ')}; see --help)`);
    setWasmThreads(parseThreads(args.values.threads, '--threads'));
    setGradientWorkers(parseWorkers(args.values.workers, '--workers'));
    setKernelWorkersOption(parseKernelWorkers(args.values['kernel-threads'], '--kernel-threads'));
    const engine = await Engine.create(parseBackendName(args.values.backend, '--backend') as BackendName | 'auto', {
      log: args.values.debug ? (m) => console.error(`saliency-lens: ${m}`) : undefined,
    });
    const note = threadsNote();
    if (note && args.values.debug) console.error(`saliency-lens: ${note}`);
    await command(engine, args);
    engine.dispose();
    return 0;
  } catch (err) {
    if (isBadInput(err)) {
      console.error(`saliency-lens: ${oneLine(err)}`);
      return 2;
    }
    console.error(`saliency-lens: internal error: ${oneLine(err)}${args?.values.debug ? '' : ' (run with --debug for details)'}`);
    if (args?.values.debug) console.error((err as Error)?.stack);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
