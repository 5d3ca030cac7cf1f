// Runs test files with node's test runner through tsx. Usage: node scripts/run-tests.mjs DIR [DIR...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return collect(p);
    return f.endsWith('.test.ts') ? [p] : [];
  });
}
const dirs = process.argv.slice(2);
const files = dirs.flatMap((d) => { try { return collect(d); } catch { return []; } }).sort();
if (files.length === 0) { console.error(`no test files under ${dirs.join(', ')}`); process.exit(1); }
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
