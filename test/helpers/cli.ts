/** Test helper: runs the saliency-lens CLI from source (through tsx) and captures its output. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** What a CLI run printed and returned. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `saliency-lens ...args` on the cpu backend unless the environment says otherwise. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
    encoding: 'utf8', cwd: ROOT, env: { ...process.env, SALIENCY_LENS_BACKEND: process.env.SALIENCY_LENS_BACKEND ?? 'cpu', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
