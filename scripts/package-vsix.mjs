// Packages the extension as a platform-specific .vsix with @vscode/vsce, without vsce's dependency walk:
// the bundles need no node_modules except sharp (native, kept external) and its platform binaries, which are
// copied to dist/node_modules (Node finds them from dist/engine.js). .vscodeignore then keeps only
// dist/ (bundles, wasm, those modules), media/ and the manifest files; the file list is checked before
// packaging so that nothing else slips in.
// Usage: node scripts/package-vsix.mjs [--target linux-x64|linux-arm64|alpine-x64|darwin-arm64|win32-x64|...]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Failures are reported in one line (the vsce output above them says more).
process.on('uncaughtException', (err) => {
  console.error(`package-vsix: ${err.message.split('\n')[0]}`);
  process.exit(1);
});

const root = process.cwd();
const require = createRequire(join(root, 'package.json'));
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');

function hostTarget() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    // Alpine and other musl systems need the musl build of sharp.
    const musl = !process.report?.getReport().header.glibcVersionRuntime;
    if (musl) return `alpine-${arch}`;
    return arch === 'arm' ? 'linux-armhf' : `linux-${arch}`;
  }
  return `${platform}-${arch}`;
}

/** sharp's name for a VS Code target platform. */
function sharpPlatform(target) {
  if (target.startsWith('alpine-')) return `linuxmusl-${target.slice('alpine-'.length)}`;
  if (target === 'linux-armhf') return 'linux-arm';
  return target;
}

const argTarget = process.argv.indexOf('--target');
const target = argTarget > 0 ? process.argv[argTarget + 1] : process.env.SALIENCY_LENS_VSIX_TARGET || hostTarget();
const sharpTarget = sharpPlatform(target);

for (const f of ['dist/extension.js', 'dist/engine.js', 'dist/webview.js', 'media/panel.css']) {
  if (!existsSync(f)) throw new Error(`${f} is missing: run the build first (npm run package does)`);
}

// The modules the engine loads at run time, and only the files of theirs that run.
const runtime = [
  { name: 'sharp', files: ['package.json', 'LICENSE', 'lib'] },
  { name: '@img/colour' },
  { name: 'detect-libc' },
  { name: 'semver', files: ['package.json', 'LICENSE', 'index.js', 'preload.js', 'classes', 'functions', 'internal', 'ranges'] },
  { name: `@img/sharp-${sharpTarget}`, native: true },
  // libvips is a separate package except on Windows, where it ships inside sharp-win32-*.
  { name: `@img/sharp-libvips-${sharpTarget}`, native: true, optional: sharpTarget.startsWith('win32') },
];

const outModules = join('dist', 'node_modules');
rmSync(outModules, { recursive: true, force: true });
for (const mod of runtime) {
  const src = join('node_modules', mod.name);
  if (!existsSync(src)) {
    if (mod.optional) continue;
    const hint = mod.native
      ? ` (install sharp's binaries for ${target}, e.g. npm install --no-save --os=${sharpTarget.split('-')[0].replace('musl', '')} --cpu=${sharpTarget.split('-').pop()}${sharpTarget.includes('musl') ? ' --libc=musl' : ''} sharp)`
      : '';
    throw new Error(`${src} is missing${hint}`);
  }
  for (const f of mod.files ?? ['.']) {
    const from = join(src, f);
    // Docs, type declarations and C headers are of no use at run time.
    const keep = (path) => !/(README\.md|\.d\.ts|[\\/]include)$/.test(path);
    if (existsSync(from)) cpSync(from, join(outModules, mod.name, f), { recursive: true, dereference: true, filter: keep });
  }
}
// Sanity check: the copied sharp resolves from the engine's folder.
require.resolve('sharp', { paths: [join(root, 'dist')] });

// Relative README links stay relative: the README is read from the installed extension's folder.
const flags = ['--no-dependencies', '--target', target, '--allow-missing-repository', '--skip-license', '--no-update-package-json', '--no-rewrite-relative-links'];
const files = execFileSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { encoding: 'utf8' })
  .split('\n').map((l) => l.trim()).filter(Boolean);
const allowed = [
  /^package\.json$/, /^README\.md$/, /^LICENSE(\.md|\.txt)?$/, /^CHANGELOG\.md$/,
  /^dist\/(extension|engine|webview)\.js$/, /^dist\/[\w-]+\.wasm$/, /^dist\/node_modules\//,
  // The threaded wasm backend: emscripten's script and the pthread worker entry (src/engine/wasmThreads.ts).
  /^dist\/(tfjs-backend-wasm-threaded-simd|wasm-thread-worker|gradient-worker|kernel-thread-worker)\.js$/,
  /^media\//,
];
const unexpected = files.filter((f) => !allowed.some((re) => re.test(f)));
if (unexpected.length) throw new Error(`unexpected files in the package (fix .vscodeignore):\n  ${unexpected.join('\n  ')}`);
for (const needed of ['dist/extension.js', 'dist/engine.js', 'dist/webview.js', 'dist/tfjs-backend-wasm-simd.wasm',
  'dist/tfjs-backend-wasm-threaded-simd.wasm', 'dist/tfjs-backend-wasm-threaded-simd.js', 'dist/wasm-thread-worker.js', 'dist/node_modules/sharp/lib/index.js', 'media/panel.css']) {
  if (!files.includes(needed)) throw new Error(`${needed} would be missing from the package (fix .vscodeignore)`);
}

const out = `${pkg.name}-${pkg.version}-${target}.vsix`;
execFileSync(process.execPath, [vsce, 'package', ...flags, '--out', out], { stdio: 'inherit' });
const mb = (statSync(out).size / 1024 / 1024).toFixed(1);
console.log(`${out}: ${files.length} files, ${mb} MB, for ${target}`);
