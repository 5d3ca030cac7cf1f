/**
 * End-to-end harness: a throwaway code-server (VS Code in the browser, loopback only) with the packaged
 * extension installed, driven by playwright-core and Debian's chromium. See scripts/e2e-setup.sh.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';

/** Where scripts/e2e-setup.sh installs code-server. */
export const CACHE_DIR = process.env.SALIENCY_LENS_E2E_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'saliency-lens-e2e');
/** The code-server launcher. */
export const CODE_SERVER = join(CACHE_DIR, 'node_modules', '.bin', 'code-server');
/** The browser. */
export const CHROMIUM = process.env.SALIENCY_LENS_E2E_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots land here (kept by CI as artefacts). */
export const SHOTS_DIR = join(process.cwd(), 'test-results', 'e2e');

/** Why the e2e test cannot run here, or undefined when it can. */
export function missingPrerequisite(): string | undefined {
  if (!existsSync(CODE_SERVER)) return `code-server is not installed in ${CACHE_DIR} (run: npm run e2e:setup)`;
  if (!existsSync(CHROMIUM)) return `chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  return undefined;
}

/** Runs a command, throwing with its output when it fails. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A running code-server with its throwaway directories. */
export interface CodeServer {
  url: string;
  userDataDir: string;
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Installs the .vsix into fresh directories and starts code-server on a free loopback port; `settings` adds user settings. */
export async function startCodeServer(vsix: string, workspace: string, baseDir: string, settings: Record<string, unknown> = {}): Promise<CodeServer> {
  const userDataDir = join(baseDir, 'user-data');
  const extensionsDir = join(baseDir, 'extensions');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    // Keep the explorer free of noise so the screenshots show what matters.
    'explorer.compactFolders': false,
    ...settings,
  }, null, 2));
  const common = ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir];
  run(CODE_SERVER, ['--install-extension', vsix, ...common]);
  const port = await freePort();
  let log = '';
  const child = spawn(CODE_SERVER, [
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', ...common, workspace,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_CONFIG_HOME: join(baseDir, 'config') } });
  child.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}):\n${log}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`code-server did not start within 60 s:\n${log}`);
    await sleep(250);
  }
  return {
    url,
    userDataDir,
    process: child,
    output: () => log,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Launches chromium headless with the flags the notes recommend. */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Waits until `fn` returns a truthy value (polling), or throws with `what`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await sleep(everyMs);
  }
}

/** The webview frame whose document has an element matching `selector` and, optionally, a title text. */
export async function findWebviewFrame(page: Page, selector: string, titleText?: string): Promise<Frame | undefined> {
  for (const frame of page.frames()) {
    try {
      const el = await frame.$(selector);
      if (!el) continue;
      if (titleText === undefined) return frame;
      const title = await frame.$eval('#title', (t) => t.textContent ?? '').catch(() => '');
      if (title.includes(titleText)) return frame;
    } catch { /* detached or cross-origin frame */ }
  }
  return undefined;
}

/** Takes a numbered screenshot into test-results/e2e. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  const file = join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** The text of the "Saliency Lens" output channel's log file(s) under the user data dir. */
export function extensionLog(userDataDir: string): string {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const p = join(dir, entry);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (entry.includes('Saliency Lens') && entry.endsWith('.log')) found.push(p);
    }
  };
  try { walk(join(userDataDir, 'logs')); } catch { return ''; }
  return found.map((f) => readFileSync(f, 'utf8')).join('\n');
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a directory tree, ignoring errors. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
