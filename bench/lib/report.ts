/** Summaries of interleaved bench rounds, the machine description, and the Markdown tables the bench prints. */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import type { ModelFlops } from './flops';

/** One process's measurement (ours or PyTorch's). */
export interface Sample {
  medianMs: number;
  minMs: number;
  maxMs: number;
  loadMs: number;
  peakRssMb: number;
  backend: string;
  extra?: Record<string, unknown>;
}

/** A model × method row: one sample per round and side. */
export interface Row {
  model: string;
  method: string;
  heavy: boolean;
  ours: (Sample | undefined)[];
  torch: (Sample | undefined)[];
  errors: string[];
  flop?: number;
  /** Why the PyTorch side is empty, when it is. */
  torchNote?: string;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median / min / max over rounds. */
export interface Spread { median: number; min: number; max: number }

function spread(samples: Sample[]): Spread | null {
  if (!samples.length) return null;
  return { median: median(samples.map((s) => s.medianMs)), min: Math.min(...samples.map((s) => s.minMs)), max: Math.max(...samples.map((s) => s.maxMs)) };
}

/** The figures of one row. */
export interface RowSummary {
  model: string;
  method: string;
  backend: string;
  rounds: number;
  ours: Spread | null;
  torch: Spread | null;
  torchImpl?: string;
  ratio: number | null;
  ratioMin: number | null;
  ratioMax: number | null;
  /** Fastest ours / fastest PyTorch: the ratio with the least interference from other processes. */
  ratioOfMins: number | null;
  loadMs: number | null;
  peakRssMb: number | null;
  torchPeakRssMb: number | null;
  gflopsOurs: number | null;
  gflopsTorch: number | null;
  flop: number | null;
  errors: string[];
  torchNote?: string;
  /** Feature visualisation: layer (ours; PyTorch's when named differently), steps per run, image, median ms per step. */
  featureVis?: { layer: string; torchLayer?: string; steps: number; torchSteps?: number; size: number[]; perStepOurs: number | null; perStepTorch: number | null };
}

/** Feature-visualisation details of a row, from its samples' extras (undefined for attribution rows). */
function featureVisSummary(ours: Sample[], torch: Sample[]): RowSummary['featureVis'] {
  const per = (xs: Sample[]): number | null => {
    const v = xs.map((s) => s.extra?.perStepMs).filter((x): x is number => typeof x === 'number');
    return v.length ? median(v) : null;
  };
  const first = ours.find((s) => typeof s.extra?.perStepMs === 'number')?.extra;
  if (!first) return undefined;
  const t = torch.find((s) => typeof s.extra?.steps === 'number')?.extra;
  return {
    layer: String(first.layer), torchLayer: t && t.layer !== first.layer ? String(t.layer) : undefined,
    steps: Number(first.steps), torchSteps: t ? Number(t.steps) : undefined, size: (first.size as number[]) ?? [],
    perStepOurs: per(ours), perStepTorch: per(torch),
  };
}

/** Aggregates a row: medians of the per-round medians, extremes of the per-round extremes, per-round ratios. */
export function summarise(row: Row): RowSummary {
  const ours = row.ours.filter((s): s is Sample => !!s);
  const torch = row.torch.filter((s): s is Sample => !!s);
  const ratios: number[] = [];
  row.ours.forEach((o, i) => {
    const t = row.torch[i];
    if (o && t) ratios.push(o.medianMs / t.medianMs);
  });
  const o = spread(ours);
  const t = spread(torch);
  const finite = (xs: number[]): number[] => xs.filter((x) => Number.isFinite(x));
  const rss = finite(ours.map((s) => s.peakRssMb));
  const trss = finite(torch.map((s) => s.peakRssMb));
  return {
    model: row.model, method: row.method, backend: ours[0]?.backend ?? '?', rounds: Math.max(ours.length, torch.length),
    ours: o, torch: t, torchImpl: torch[0]?.extra?.impl as string | undefined,
    ratio: o && t ? o.median / t.median : null,
    ratioMin: ratios.length ? Math.min(...ratios) : null, ratioMax: ratios.length ? Math.max(...ratios) : null,
    ratioOfMins: o && t ? o.min / t.min : null,
    loadMs: ours.length ? median(ours.map((s) => s.loadMs)) : null,
    peakRssMb: rss.length ? Math.max(...rss) : null, torchPeakRssMb: trss.length ? Math.max(...trss) : null,
    gflopsOurs: o && row.flop ? row.flop / o.median / 1e6 : null,
    gflopsTorch: t && row.flop ? row.flop / t.median / 1e6 : null,
    flop: row.flop ?? null, errors: row.errors, torchNote: row.torchNote, featureVis: featureVisSummary(ours, torch),
  };
}

/** What the bench knows about the machine. */
export interface Machine {
  cpu: string;
  vendor: string;
  family: string;
  cores: number;
  mhz: number;
  /** Where the clock came from: /proc/cpuinfo (often the nominal/TSC clock, below boost) or --ghz. */
  clockSource: 'cpuinfo' | 'given';
  avx2: boolean;
  fma: boolean;
  avx512f: boolean;
  node: string;
  torch?: string;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
}

/** CPU model, cores, clock and vector extensions from /proc/cpuinfo (os.cpus() elsewhere); `ghz` overrides the clock. */
export function machineInfo(ghz?: number): Machine {
  let info = '';
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    /* not Linux */
  }
  const field = (name: string): string => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  const flags = new Set(field('flags').split(/\s+/));
  const c = cpus();
  return {
    cpu: field('model name') || c[0]?.model || 'unknown', vendor: field('vendor_id'), family: field('cpu family'),
    cores: c.length, mhz: ghz ? ghz * 1000 : Number(field('cpu MHz')) || c[0]?.speed || 0, clockSource: ghz ? 'given' : 'cpuinfo',
    avx2: flags.has('avx2'), fma: flags.has('fma'), avx512f: flags.has('avx512f'), node: process.version,
    loadAvgStart: loadavg(),
  };
}

/** Theoretical FP32 peaks, GFLOP/s. */
export interface Peaks {
  /** One thread of WebAssembly SIMD128 (4 lanes, no FMA: separate multiply and add). */
  wasm1: number;
  /** Cores PyTorch uses (its thread count, at most the machine's cores). */
  torchCores: number;
  /** Those cores with 256-bit FMA (2 FMA pipes per core). */
  avx2All: number;
  /** Those cores with full-width AVX-512 FMA, when the CPU has AVX-512. */
  avx512All?: number;
}

/**
 * Peaks at the clock /proc/cpuinfo reports. wasm: 4 lanes × (2 multiplies + 2 adds) per cycle on AMD Zen's
 * four FP pipes (8 on cores with two FMA ports). AVX2: 2 pipes × 8 lanes × 2 (FMA) = 32 FLOP/cycle/core.
 */
export function machinePeaks(m: Machine, torchThreads: number): Peaks {
  const ghz = m.mhz / 1000;
  const wasmPerCycle = m.vendor === 'AuthenticAMD' ? 16 : 8;
  const cores = Math.max(1, Math.min(torchThreads, m.cores));
  return {
    wasm1: wasmPerCycle * ghz,
    torchCores: cores,
    avx2All: m.avx2 && m.fma ? cores * 32 * ghz : cores * 8 * ghz,
    avx512All: m.avx512f ? cores * 64 * ghz : undefined,
  };
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const range = (s: Spread | null): string => (s ? `${ms(s.median)} (${ms(s.min)}–${ms(s.max)})` : '—');
const ratio = (r: RowSummary): string => {
  if (r.ratio === null) return '—';
  const sp = r.ratioMin !== null && r.ratioMax !== null && r.rounds > 1 ? ` (${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)})` : '';
  return `${r.ratio.toFixed(2)}×${sp}`;
};

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The main table: latency, PyTorch, ratio, load and memory per model × method. */
export function latencyTable(rows: RowSummary[]): string {
  return table(
    ['model', 'method', 'backend', 'ours ms median (min–max)', 'PyTorch ms median (min–max)', 'ours/PyTorch (spread)', 'min/min', 'rounds', 'load ms', 'peak RSS MB'],
    rows.map((r) => [
      r.model, r.method, r.backend, range(r.ours), r.torch ? range(r.torch) : r.torchNote ?? '—', ratio(r),
      r.ratioOfMins === null ? '—' : `${r.ratioOfMins.toFixed(2)}×`, String(r.rounds),
      r.loadMs === null ? '—' : r.loadMs.toFixed(0), r.peakRssMb === null ? '—' : r.peakRssMb.toFixed(0),
    ]),
  );
}

/**
 * The threads a backend column names, gradient helpers or kernel threads included ("wasm 2T" → 2, "wasm 2T +1H"
 * → 3, "wasm" → 1). Helpers and kernel threads never compute at once (they take the same spare cores).
 */
function backendThreads(backend: string): number {
  const m = /(\d+)T\b/.exec(backend);
  const h = /\+(\d+)H\b/.exec(backend);
  const k = /\+(\d+)K\b/.exec(backend);
  return (m ? Number(m[1]) : 1) + Math.max(h ? Number(h[1]) : 0, k ? Number(k[1]) : 0);
}

/** Achieved GFLOP/s of each row against the machine's peaks. */
export function limitsTable(rows: RowSummary[], peaks: Peaks): string {
  const pct = (x: number | null, peak: number): string => (x === null ? '—' : `${x.toFixed(1)} (${((100 * x) / peak).toFixed(0)}%)`);
  const cpuPeak = peaks.avx512All ?? peaks.avx2All;
  return table(
    ['model', 'method', 'GFLOP per map', 'ours GFLOP/s (% of the wasm peak on its threads)', `PyTorch GFLOP/s (% of ${peaks.torchCores}-core ${peaks.avx512All ? 'AVX-512' : 'AVX2'} peak)`],
    rows.filter((r) => r.flop).map((r) => [
      r.model, r.method, (r.flop! / 1e9).toFixed(2), pct(r.gflopsOurs, peaks.wasm1 * Math.min(backendThreads(r.backend), availableParallelism())), pct(r.gflopsTorch, cpuPeak),
    ]),
  );
}

/** Per-model MAC counts. */
export function modelTable(models: { id: string; flops?: ModelFlops }[]): string {
  return table(
    ['model', 'input', 'forward GMAC', 'conv / depthwise / dense', 'conv-like nodes', 'other nodes'],
    models.filter((m) => m.flops).map(({ id, flops: f }) => [
      id, f!.inputShape.join('×'), (f!.macs / 1e9).toFixed(3),
      [f!.convMacs, f!.depthwiseMacs, f!.denseMacs].map((x) => `${((100 * x) / f!.macs).toFixed(0)}%`).join(' / '),
      String(f!.convNodes), String(f!.otherNodes),
    ]),
  );
}

/** One cold-start measurement: process start to the first map. */
export interface ColdResult {
  model: string;
  ours: { wallMs: number; loadMs: number; inferenceMs: number; attributionMs: number }[];
  torch: { wallMs: number; importMs: number; loadMs: number }[];
  errors: string[];
}

/** The cold-start table. */
export function coldTable(cold: ColdResult[]): string {
  const sp = (xs: number[]): string => (xs.length ? `${ms(median(xs))} (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})` : '—');
  const med = (xs: number[]): string => (xs.length ? ms(median(xs)) : '—');
  return table(
    ['model', 'ours: start → first map, ms median (min–max)', 'of which load / predict / vanilla ms', 'PyTorch: start → first map, ms', 'of which import torch / build ms', 'reps'],
    cold.map((c) => [
      c.model, sp(c.ours.map((o) => o.wallMs)),
      `${med(c.ours.map((o) => o.loadMs))} / ${med(c.ours.map((o) => o.inferenceMs))} / ${med(c.ours.map((o) => o.attributionMs))}`,
      sp(c.torch.map((t) => t.wallMs)),
      c.torch.length ? `${med(c.torch.map((t) => t.importMs))} / ${med(c.torch.map((t) => t.loadMs))}` : '—',
      String(Math.max(c.ours.length, c.torch.length)),
    ]),
  );
}

/** Feature visualisation rows: the layer, the steps both sides took, and the steady-state time per step. */
export function featureVisTable(rows: RowSummary[]): string {
  const per = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : ms(x));
  return table(
    ['model', 'method', 'layer', 'steps (ours / PyTorch)', 'image', 'ours ms per step', 'PyTorch ms per step', 'ours/PyTorch per step', 'ours s per picture', 'PyTorch s per picture'],
    rows.filter((r) => r.featureVis).map((r) => {
      const f = r.featureVis!;
      return [
        r.model, r.method, `${f.layer}${f.torchLayer ? ` (PyTorch: ${f.torchLayer})` : ''}`, `${f.steps} / ${f.torchSteps ?? '—'}`, f.size.join('×'),
        per(f.perStepOurs), per(f.perStepTorch), f.perStepOurs && f.perStepTorch ? `${(f.perStepOurs / f.perStepTorch).toFixed(2)}×` : '—',
        r.ours ? (r.ours.median / 1000).toFixed(2) : '—', r.torch ? (r.torch.median / 1000).toFixed(2) : '—',
      ];
    }),
  );
}
