/** The bench's models: where they are, which PyTorch architecture mirrors each, and generating missing ONNX exports. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runChild } from './proc';

/** A model the bench measures. */
export interface BenchModel {
  /** Short name used in tables and --models. */
  id: string;
  /** Path given to `saliency-lens --model`. */
  path: string;
  /** How bench/torch_reference.py rebuilds it. */
  arch: 'keras' | 'resnet18' | 'mobilenet_v2';
  /** Repetitions of the cold-start measurement. */
  coldReps: number;
  /**
   * The mid layer feature visualisation is timed at: its node name for `saliency-lens --layer`, and for
   * bench/torch_reference.py the Keras layer name or the torchvision module whose output it is.
   */
  featureLayer: { ours: string; torch: string };
}

/** Every model id, in table order. */
export const MODEL_IDS = ['darknet-tiny', 'demo', 'resnet18', 'mobilenet_v2'] as const;

const ONNX_DIR = join('test', 'fixtures', 'generated', 'onnx');

/**
 * Mid layers for feature visualisation, about half-way through each network (darknet-tiny: conv 8 of 16;
 * ResNet-18: the end of its second stage, 4 of 8 blocks; MobileNetV2: block 9 of 17; the demo: its residual
 * block). The ONNX names are what torch.onnx.export gives the last node of those torchvision modules.
 */
const FEATURE_LAYERS: Record<(typeof MODEL_IDS)[number], { ours: string; torch: string }> = {
  'darknet-tiny': { ours: 'leaky_re_lu_8', torch: 'leaky_re_lu_8' },
  demo: { ours: 'res_relu', torch: 'res_relu' },
  resnet18: { ours: '/layer2/layer2.1/relu_1/Relu', torch: 'layer2' },
  mobilenet_v2: { ours: '/features/features.9/Add', torch: 'features.9' },
};

/** The ONNX export of a torchvision model written by scripts/fixtures/make_onnx_fixtures.py, newest opset first. */
function onnxExport(root: string, name: string): string | undefined {
  const dir = join(root, ONNX_DIR);
  let opsets = [17, 13];
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { models: { name: string; opsets: number[] }[] };
    const entry = manifest.models.find((m) => m.name === name);
    if (entry) opsets = [...entry.opsets].sort((a, b) => b - a);
  } catch {
    /* no manifest: try the usual opsets */
  }
  for (const opset of opsets) {
    const path = join(dir, `${name}.opset${opset}.onnx`);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** BENCH_DARKNET when set (and only it), else ../shared/models/darknet-tiny beside the checkout. */
function darknetDir(root: string): string {
  return resolve(process.env.BENCH_DARKNET || join(root, '..', 'shared', 'models', 'darknet-tiny'));
}

/** Options of model discovery. */
export interface FindOptions {
  root: string;
  wanted: Set<string>;
  /** Python with torch, when available: used to export missing ONNX models. */
  python?: string;
  generate: boolean;
  log: (line: string) => void;
}

/** Finds the wanted models; missing ONNX exports are generated with the fixture script when torch is available. */
export async function findModels(o: FindOptions): Promise<{ models: BenchModel[]; skipped: string[] }> {
  const models: BenchModel[] = [];
  const skipped: string[] = [];
  if (o.wanted.has('darknet-tiny')) {
    const path = join(darknetDir(o.root), 'model.json');
    if (existsSync(path)) models.push({ id: 'darknet-tiny', path, arch: 'keras', coldReps: 3, featureLayer: FEATURE_LAYERS['darknet-tiny'] });
    else skipped.push(`darknet-tiny: ${path} not found (${process.env.BENCH_DARKNET ? 'BENCH_DARKNET points there' : 'set BENCH_DARKNET=DIR to point at the model\'s folder'})`);
  }
  if (o.wanted.has('demo')) {
    models.push({ id: 'demo', path: join(o.root, 'media', 'demo', 'model', 'model.json'), arch: 'keras', coldReps: 3, featureLayer: FEATURE_LAYERS.demo });
  }
  const onnx = (['resnet18', 'mobilenet_v2'] as const).filter((n) => o.wanted.has(n));
  const missing = onnx.filter((n) => !onnxExport(o.root, n));
  if (missing.length && o.python && o.generate) {
    o.log(`exporting ${missing.join(', ')} to ONNX with scripts/fixtures/make_onnx_fixtures.py (once; a minute or two)…`);
    const r = await runChild(o.python, [join(o.root, 'scripts', 'fixtures', 'make_onnx_fixtures.py'), '--big-only', '--models', missing.join(',')], { cwd: o.root });
    if (r.code !== 0) o.log(`  the export failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }
  for (const name of onnx) {
    const path = onnxExport(o.root, name);
    if (path) models.push({ id: name, path, arch: name, coldReps: 1, featureLayer: FEATURE_LAYERS[name] });
    else if (!o.python) skipped.push(`${name}: no ONNX export in ${ONNX_DIR} and no PyTorch to generate one (run /usr/bin/python3 scripts/fixtures/make_onnx_fixtures.py --big-only --models ${name})`);
    else if (!o.generate) skipped.push(`${name}: no ONNX export in ${ONNX_DIR} (--no-generate given)`);
    else skipped.push(`${name}: the ONNX export could not be generated`);
  }
  models.sort((a, b) => MODEL_IDS.indexOf(a.id as (typeof MODEL_IDS)[number]) - MODEL_IDS.indexOf(b.id as (typeof MODEL_IDS)[number]));
  return { models, skipped };
}

/** The Python interpreter with torch (BENCH_PYTHON, else Debian's /usr/bin/python3), or undefined with the reason. */
export async function findTorch(python: string): Promise<{ python?: string; version?: string; reason?: string }> {
  if (!existsSync(python)) return { reason: `${python} not found` };
  try {
    const r = await runChild(python, [join(__dirname, '..', 'torch_reference.py'), '--probe'], { timeoutMs: 120_000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.code === 0 && line.startsWith('{')) return { python, version: (JSON.parse(line) as { torch: string }).torch };
    return { reason: `${python} cannot import torch (${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`})` };
  } catch (err) {
    return { reason: `${python}: ${(err as Error).message}` };
  }
}
