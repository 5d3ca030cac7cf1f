/**
 * `npm run bench`: warm and cold latency, load time and peak RSS of Saliency Lens per model × method, next to
 * PyTorch on the same machine in the same run, interleaved round by round (see docs/performance.md).
 *
 *   node --import tsx bench/run.ts [--runs N] [--rounds R] [--budget SECONDS] [--models a,b] [--methods a,b]
 *       [--no-torch] [--torch-threads N] [--python PATH] [--cli PATH] [--backend B] [--threads N] [--ghz F]
 *       [--no-generate] [--heavy-first] [--no-render] [--json] [--json-out FILE]
 *
 * Environment: BENCH_RUNS, BENCH_ROUNDS, BENCH_BUDGET_S, BENCH_MODELS, BENCH_METHODS, BENCH_PYTHON, BENCH_GHZ, BENCH_THREADS,
 * BENCH_HEAVY_FIRST=1, BENCH_DARKNET (folder of darknet-tiny), BUILD_OUTDIR (where the CLI bundle is: dist).
 * Progress goes to stderr; the tables (or --json) to stdout.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_STEPS } from '../src/engine/featureVis/filters';
import { DREAM_DEFAULTS } from '../src/engine/featureVis/dream';
import { countModelFlops, methodFlops, type ModelFlops } from './lib/flops';
import { coldOurs, coldTorch, heavyWarmup, measureOurs, measureTorch, type MeasureContext, type MethodSpec } from './lib/measure';
import { MODEL_IDS, findModels, findTorch, type BenchModel } from './lib/models';
import { runChild } from './lib/proc';
import {
  coldTable, featureVisTable, latencyTable, limitsTable, machineInfo, machinePeaks, modelTable, summarise, type ColdResult, type Row,
} from './lib/report';

const ROOT = resolve(__dirname, '..');

/**
 * Methods in table order. SmoothGrad and IG use the engine's defaults: 25 samples, 50 steps, automatic batches
 * (PyTorch: batches of 16).
 * Feature visualisation: one picture of filter 0 (`saliency-lens filters` defaults) and one whole-layer dream
 * (`saliency-lens dream` defaults) at each model's mid layer.
 */
const METHOD_SPECS: MethodSpec[] = [
  { id: 'predict', heavy: false, torch: true },
  { id: 'vanilla', heavy: false, torch: true },
  { id: 'guided', heavy: false, torch: true },
  { id: 'smoothgrad', heavy: true, torch: true },
  { id: 'integrated-gradients', heavy: true, torch: true },
  { id: 'gradcam', heavy: false, torch: true },
  { id: 'activation-maximization', heavy: true, torch: true, featureVis: { steps: DEFAULT_STEPS } },
  { id: 'deep-dream', heavy: true, torch: true, featureVis: { steps: DREAM_DEFAULTS.steps } },
];

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string' }, rounds: { type: 'string' }, budget: { type: 'string' }, models: { type: 'string' },
    methods: { type: 'string' }, 'no-torch': { type: 'boolean' },
    'torch-threads': { type: 'string' }, ghz: { type: 'string' }, python: { type: 'string' }, cli: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' },
    'no-generate': { type: 'boolean' }, 'heavy-first': { type: 'boolean' }, 'no-render': { type: 'boolean' }, json: { type: 'boolean' }, 'json-out': { type: 'string' }, help: { type: 'boolean' },
  },
});

function intOpt(value: string | undefined, env: string, fallback: number, min = 1): number {
  const raw = value ?? process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`bench: ${value !== undefined ? 'option' : env} must be an integer ≥ ${min} (got ${raw})`);
  return n;
}

function listOpt(value: string | undefined, env: string, all: readonly string[], what: string): string[] {
  const raw = value ?? process.env[env];
  if (!raw) return [...all];
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = list.filter((x) => !all.includes(x));
  if (unknown.length) throw new Error(`bench: unknown ${what} ${unknown.join(', ')} (available: ${all.join(', ')})`);
  return list;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function main(): Promise<void> {
  if (opt.help) {
    process.stdout.write(`${(/\/\*\*([\s\S]*?)\*\//.exec(readFileSync(__filename, 'utf8'))?.[1] ?? '').replace(/^ \* ?/gm, '')}\n`);
    return;
  }
  const runs = intOpt(opt.runs, 'BENCH_RUNS', 5);
  const rounds = intOpt(opt.rounds, 'BENCH_ROUNDS', 3);
  const budgetS = intOpt(opt.budget, 'BENCH_BUDGET_S', 600);
  const torchThreads = intOpt(opt['torch-threads'], 'BENCH_TORCH_THREADS', 2);
  const threads = opt.threads ?? process.env.BENCH_THREADS ? intOpt(opt.threads, 'BENCH_THREADS', 1) : undefined;
  const wantedModels = new Set(listOpt(opt.models, 'BENCH_MODELS', MODEL_IDS, 'model'));
  const wantedMethods = listOpt(opt.methods, 'BENCH_METHODS', METHOD_SPECS.map((m) => m.id), 'method');
  const methods = METHOD_SPECS.filter((m) => wantedMethods.includes(m.id));
  const ghzRaw = opt.ghz ?? process.env.BENCH_GHZ;
  const ghz = ghzRaw ? Number(ghzRaw) : undefined;
  if (ghz !== undefined && !(ghz > 0.1 && ghz < 10)) throw new Error(`bench: --ghz must be a clock in GHz (got ${ghzRaw})`);
  const machine = machineInfo(ghz);

  let python: string | undefined;
  let torchReason = '--no-torch given';
  if (!opt['no-torch']) {
    const t = await findTorch(opt.python ?? process.env.BENCH_PYTHON ?? '/usr/bin/python3');
    python = t.python;
    machine.torch = t.version;
    torchReason = t.reason ?? '';
    log(python ? `PyTorch ${t.version} (${python}), ${torchThreads} threads` : `PyTorch columns skipped: ${torchReason}`);
  }
  const { models, skipped } = await findModels({ root: ROOT, wanted: wantedModels, python, generate: !opt['no-generate'], log });
  for (const s of skipped) log(`skipped ${s}`);
  if (!models.length) throw new Error('bench: no model to measure');

  const flops = new Map<string, ModelFlops>();
  for (const m of models) {
    try {
      flops.set(m.id, await countModelFlops(m.path, [m.featureLayer.ours]));
    } catch (err) {
      log(`MAC count of ${m.id} failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  const outDir = mkdtempSync(join(tmpdir(), 'saliency-bench-'));
  // `npm run bench` builds first; with BUILD_OUTDIR set, the build (and so the bundle to measure) is there.
  const cli = resolve(ROOT, opt.cli ?? join(process.env.BUILD_OUTDIR || 'dist', 'cli.js'));
  if (!existsSync(cli)) throw new Error(`bench: ${cli} not found (run npm run build, or give --cli PATH)`);
  const ctx: MeasureContext = {
    root: ROOT, cli, python, backend: opt.backend, threads, runs, torchThreads,
    image: join(ROOT, 'media', 'demo', 'demo.png'), outDir, timeoutMs: 20 * 60_000,
    heavyFirst: !!opt['heavy-first'] || process.env.BENCH_HEAVY_FIRST === '1',
    warmup: await cliWarmupOption(cli),
  };
  const work = { samples: 25, steps: 50, filterSteps: DEFAULT_STEPS, dream: { steps: DREAM_DEFAULTS.steps, octaves: DREAM_DEFAULTS.octaves, octaveScale: DREAM_DEFAULTS.octaveScale } };
  const rows: Row[] = [];
  for (const m of models) {
    for (const spec of methods) {
      const f = flops.get(m.id);
      rows.push({
        model: m.id, method: spec.id, heavy: spec.heavy, ours: [], torch: [], errors: [],
        flop: f ? methodFlops(spec.id, f, { ...work, featureLayer: m.featureLayer.ours }) : undefined,
        torchNote: !python ? 'skipped (no PyTorch)' : spec.torch ? undefined : 'no PyTorch counterpart',
      });
    }
  }
  const modelOf = (id: string): BenchModel => models.find((m) => m.id === id)!;
  const specOf = (id: string): MethodSpec => methods.find((m) => m.id === id)!;

  const start = performance.now();
  const elapsedS = (): number => (performance.now() - start) / 1000;
  const estimateS = new Map<Row, number>();
  const notes: string[] = [];
  log(`machine: ${machine.cpu} (family ${machine.family}), ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAvgStart.map((x) => x.toFixed(1)).join(' ')}`);
  log(`measuring ${rows.length} rows × up to ${rounds} rounds (${runs} warm runs per process for single-pass methods), budget ${budgetS} s`);

  // Cold starts first (the MAC count above has already read every model file, so the page cache is warm).
  const cold = await measureCold(ctx, models);
  for (let round = 0; round < rounds; round++) {
    for (const row of rows) {
      if (row.errors.length && !row.ours.some(Boolean)) continue;
      const est = estimateS.get(row) ?? 0;
      if (round > 0 && elapsedS() + est > budgetS) continue;
      const t0 = performance.now();
      const model = modelOf(row.model);
      const spec = specOf(row.method);
      const doOurs = async (): Promise<void> => {
        try {
          row.ours[round] = await measureOurs(ctx, model, spec);
        } catch (err) {
          row.errors.push(`ours: ${(err as Error).message}`);
        }
      };
      const doTorch = async (): Promise<void> => {
        if (!python || !spec.torch) return;
        try {
          row.torch[round] = await measureTorch(ctx, model, spec);
        } catch (err) {
          row.errors.push(`PyTorch: ${(err as Error).message}`);
        }
      };
      // Alternate which side goes first, so that a slow drift of the machine's load does not favour one.
      if (round % 2 === 0) {
        await doOurs();
        await doTorch();
      } else {
        await doTorch();
        await doOurs();
      }
      if (round === 0) estimateS.set(row, (performance.now() - t0) / 1000);
      const o = row.ours[round];
      const t = row.torch[round];
      // Feature visualisation: both sides must have taken the same number of steps.
      if (o?.extra?.steps !== undefined && t?.extra?.steps !== undefined && o.extra.steps !== t.extra.steps && round === 0) {
        row.errors.push(`ours took ${String(o.extra.steps)} steps, PyTorch ${String(t.extra.steps)}: the figures are not comparable`);
      }
      log(`[round ${round + 1}, ${elapsedS().toFixed(0)} s] ${row.model} ${row.method}: ours ${o ? `${fmt(o.medianMs)} ms` : 'failed'}` +
        `${t ? `, PyTorch ${fmt(t.medianMs)} ms${o ? ` (${(o.medianMs / t.medianMs).toFixed(2)}×)` : ''}` : ''}`);
    }
  }
  const render = opt['no-render'] ? undefined : await measureRender();
  const skippedRounds = rows.filter((r) => Math.max(r.ours.filter(Boolean).length, r.torch.filter(Boolean).length) < rounds && !r.errors.length);
  if (skippedRounds.length) notes.push(`${skippedRounds.length} rows got fewer than ${rounds} rounds: the ${budgetS} s budget was reached (raise it with --budget / BENCH_BUDGET_S)`);
  rmSync(outDir, { recursive: true, force: true });

  machine.loadAvgEnd = loadavg();
  const loaded = Math.max(machine.loadAvgStart[0], machine.loadAvgEnd[0]) > machine.cores * 0.75;
  if (loaded) notes.push(`the machine was loaded (1-minute load average ${machine.loadAvgStart[0].toFixed(1)} at the start, ${machine.loadAvgEnd[0].toFixed(1)} at the end, on ${machine.cores} cores): figures are noisy, and PyTorch's spinning OpenMP threads suffer more from competing processes than wasm`);
  const summaries = rows.map(summarise);
  const peaks = machinePeaks(machine, torchThreads);
  const torchImpls = [...new Set(summaries.map((s) => (s.torchImpl ? `${s.model}: ${s.torchImpl}` : '')).filter(Boolean))];
  const report = {
    machine, peaks, config: { runs, rounds, budgetS, torchThreads, threads: threads ?? 'CLI default', cli: ctx.cli, backend: opt.backend ?? 'auto', heavyMethods: methods.filter((m) => m.heavy).map((m) => m.id), heavyFirst: ctx.heavyFirst, warmup: ctx.warmup ?? 'CLI default (2)', samples: work.samples, steps: work.steps, batch: 16 },
    models: models.map((m) => ({ ...m, flops: flops.get(m.id) })), skipped, torch: python ? { python, version: machine.torch, threads: torchThreads, impls: torchImpls } : { skipped: torchReason },
    rows: summaries, rounds: rows.map((r) => ({ model: r.model, method: r.method, ours: r.ours, torch: r.torch })), cold, render: render?.rows, notes,
    elapsedS: elapsedS(),
  };
  if (opt['json-out']) writeFileSync(resolve(opt['json-out']), `${JSON.stringify(report, null, 2)}\n`);
  if (opt.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const out: string[] = [];
  out.push(`Saliency Lens bench — ${machine.cpu} (family ${machine.family}, ${(machine.mhz / 1000).toFixed(2)} GHz ${machine.clockSource === 'given' ? 'given' : 'per /proc/cpuinfo'}), ${machine.cores} cores, Node ${machine.node}` +
    `${python ? `, PyTorch ${machine.torch} (${torchThreads} threads)` : ''}; ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${elapsedS().toFixed(0)} s`);
  out.push('', '### Warm latency (one map, batch 1, after warm-up)', '', latencyTable(summaries));
  out.push('', `Single-pass methods: median of per-process medians over the rounds (each process: ${ctx.warmup ?? 2} warm-up maps, then ${runs} timed); ` +
    `SmoothGrad (25 samples) and Integrated Gradients (50 steps), ours in automatic batches (≤ 8, ≤ 32 under 8 MB per image), PyTorch's in batches of 16: ${ctx.heavyFirst ? 'the first map of a fresh process after one forward pass (first-call costs included, on both sides)' : `${heavyWarmup(ctx)} warm-up maps (our gradient helper loads the model once the first has ended), then one timed`}, median over rounds. ` +
    'ours/PyTorch: ratio of the medians (min–max of the per-round ratios); min/min: fastest map against fastest map, the figure least disturbed by other processes. ' +
    'Load: model load in the measuring process. Peak RSS: that process\'s high-water mark.');
  if (summaries.some((r) => r.featureVis)) {
    out.push('', '### Feature visualisation (one picture per process, after a 2-step warm-up run)', '', featureVisTable(summaries));
    out.push('', `Activation maximisation: filter 0 of the layer, ${DEFAULT_STEPS} Adam steps on one Fourier-parameterised image at the model's size, random transforms every step. ` +
      `DeepDream: the whole layer on seeded noise, ${DREAM_DEFAULTS.octaves} octaves × ${DREAM_DEFAULTS.steps} steps. Per step: from the end of the first step to the end of the last.`);
  }
  if (cold.length) out.push('', '### Cold start (process start → first vanilla map)', '', coldTable(cold));
  if (render) out.push('', '### Panel re-render (the webview\'s pure rendering code, in Node)', '', render.table);
  out.push('', '### What limits the ratios', '', modelTable(models.map((m) => ({ id: m.id, flops: flops.get(m.id) }))), '', limitsTable(summaries, peaks));
  out.push('', `Peaks at ${(machine.mhz / 1000).toFixed(2)} GHz (${machine.clockSource === 'given' ? 'given with --ghz' : '/proc/cpuinfo, often the nominal clock: pass the boost clock with --ghz'}): ` +
    `one wasm SIMD128 thread ${peaks.wasm1.toFixed(0)} GFLOP/s (no FMA: 4 lanes × (2 multiplies + 2 adds) per cycle); ` +
    `${peaks.torchCores} core(s) (PyTorch's threads) AVX2 FMA ${peaks.avx2All.toFixed(0)} GFLOP/s${peaks.avx512All ? `, AVX-512 FMA (2 full-width pipes) ${peaks.avx512All.toFixed(0)} GFLOP/s` : ''}. ` +
    'FLOPs count only convolutions and dense layers (a gradient ≈ 2 forwards: no weight gradients), as direct convolutions: ' +
    'our Winograd 3×3 convolutions do up to 4× fewer multiplies, so ours can exceed 100 % of the peak.');
  if (torchImpls.length) out.push('', `PyTorch implementations: ${torchImpls.join('; ')}.`);
  if (!python) out.push(`- PyTorch columns skipped: ${torchReason}`);
  for (const s of skipped) out.push(`- skipped ${s}`);
  for (const r of summaries) for (const e of r.errors) out.push(`- ${r.model} ${r.method}: ${e}`);
  for (const c of cold) for (const e of c.errors) out.push(`- cold ${c.model}: ${e}`);
  for (const n of notes) out.push(`- note: ${n}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * Panel render timings from bench/render.ts's benchRender(), when that file exists (it is measured in this
 * process: pure JS, no model). Skipped with --no-render.
 */
async function measureRender(): Promise<{ rows: unknown[]; table: string } | undefined> {
  const path = join(__dirname, 'render.ts');
  if (!existsSync(path)) return undefined;
  try {
    const mod = (await import(path)) as { benchRender?: () => Promise<unknown[]>; renderTable?: (rows: unknown[]) => string };
    if (!mod.benchRender) return undefined;
    log('panel render timings (bench/render.ts)…');
    const rows = await mod.benchRender();
    const table = mod.renderTable ? mod.renderTable(rows) : rows.map((r) => JSON.stringify(r)).join('\n');
    return { rows, table };
  } catch (err) {
    log(`panel render timings failed: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** 2 when the CLI's bench command takes --warmup, else undefined (the CLI's own default, also 2). */
async function cliWarmupOption(cli: string): Promise<number | undefined> {
  try {
    const r = await runChild(process.execPath, [cli, '--help'], { timeoutMs: 60_000 });
    return /--warmup\b/.test(r.stdout) ? 2 : undefined;
  } catch {
    return undefined;
  }
}

/** Cold starts, ours and PyTorch's alternately (3 repetitions for darknet-tiny and the demo, 1 for the others). */
async function measureCold(ctx: MeasureContext, models: BenchModel[]): Promise<ColdResult[]> {
  const results: ColdResult[] = [];
  const t0 = performance.now();
  for (const model of models) {
    const c: ColdResult = { model: model.id, ours: [], torch: [], errors: [] };
    for (let i = 0; i < model.coldReps; i++) {
      try {
        c.ours.push(await coldOurs(ctx, model));
      } catch (err) {
        c.errors.push(`ours: ${(err as Error).message}`);
        break;
      }
      if (!ctx.python) continue;
      try {
        c.torch.push(await coldTorch(ctx, model));
      } catch (err) {
        c.errors.push(`PyTorch: ${(err as Error).message}`);
      }
    }
    const o = c.ours.map((x) => x.wallMs);
    log(`[cold, ${((performance.now() - t0) / 1000).toFixed(0)} s] ${model.id}: ours ${o.map(fmt).join(', ')} ms; PyTorch ${c.torch.map((x) => fmt(x.wallMs)).join(', ') || '—'} ms`);
    results.push(c);
  }
  return results;
}

main().catch((err: unknown) => {
  log((err as Error).message);
  process.exitCode = 1;
});
