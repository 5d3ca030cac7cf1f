/** Child processes for the bench: wall time, time to first output, and peak RSS polled from /proc. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** What a finished child reported. */
export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Spawn to exit, ms. */
  wallMs: number;
  /** Spawn to the first byte on stdout (the JSON result), ms; NaN when nothing was printed. */
  firstOutputMs: number;
  /** Largest VmHWM seen while polling /proc/PID/status (MB); NaN where /proc is unavailable. */
  peakRssMb: number;
}

function vmHwmMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Runs a command to completion (killed after `timeoutMs`), polling its high-water RSS every 50 ms. */
export function runChild(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let firstOutputMs = NaN;
    let peak = NaN;
    const poll = (): void => {
      if (child.pid === undefined) return;
      const v = vmHwmMb(child.pid);
      if (!Number.isNaN(v)) peak = Number.isNaN(peak) ? v : Math.max(peak, v);
    };
    const timer = setInterval(poll, 50);
    const killer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.stdout.on('data', (d: Buffer) => {
      if (Number.isNaN(firstOutputMs)) {
        firstOutputMs = performance.now() - start;
        poll();
      }
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (err) => {
      clearInterval(timer);
      if (killer) clearTimeout(killer);
      reject(err);
    });
    child.on('close', (code) => {
      clearInterval(timer);
      if (killer) clearTimeout(killer);
      resolve({ code, stdout, stderr, wallMs: performance.now() - start, firstOutputMs, peakRssMb: peak });
    });
  });
}

/** The last line of stdout that parses as a JSON object, or an error naming the command's failure. */
export function parseJsonOutput(result: ChildResult, what: string): Record<string, unknown> {
  const lines = result.stdout.trim().split('\n').reverse();
  for (const line of lines) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      return JSON.parse(t) as Record<string, unknown>;
    } catch {
      /* keep looking */
    }
  }
  const err = result.stderr.trim().split('\n').slice(-3).join(' | ');
  throw new Error(`${what} failed (exit ${result.code}): ${err || 'no JSON on stdout'}`);
}
