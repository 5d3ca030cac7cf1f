// Bundles the four entry points with esbuild and copies the runtime assets (wasm binaries) next to them.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
// BUILD_OUTDIR lets several people (or agents) build side by side without overwriting each other's bundles.
const dist = process.env.BUILD_OUTDIR || 'dist';
mkdirSync(dist, { recursive: true });

// Native or optional packages stay outside the bundles and are resolved from node_modules at run time.
const nodeExternals = ['vscode', 'sharp', '@tensorflow/tfjs-node'];
// ignoreAnnotations: the tfjs backends register themselves on import, but their package.json marks the Node entry as side-effect free.
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', ignoreAnnotations: true };

const builds = [
  { ...common, entryPoints: { extension: 'src/extension/extension.ts' }, platform: 'node', format: 'cjs', target: 'node20', outdir: dist, external: nodeExternals },
  { ...common, entryPoints: { engine: 'src/engine/process.ts' }, platform: 'node', format: 'cjs', target: 'node20', outdir: dist, external: nodeExternals },
  { ...common, entryPoints: { cli: 'src/cli/main.ts' }, platform: 'node', format: 'cjs', target: 'node20', outdir: dist, external: nodeExternals, banner: { js: '#!/usr/bin/env node' } },
  { ...common, entryPoints: { webview: 'webview/main.ts' }, platform: 'browser', format: 'iife', target: 'es2022', outdir: dist },
  // The threaded wasm backend's pthread worker entry (src/engine/wasmThreads.ts finds it beside the bundles).
  // Gradient helper threads (src/engine/gradientPool.ts finds the bundle beside the engine's).
  { ...common, entryPoints: { 'gradient-worker': 'src/engine/gradientWorker.ts' }, platform: 'node', format: 'cjs', target: 'node20', outdir: dist, external: nodeExternals },
  { ...common, entryPoints: { 'wasm-thread-worker': 'src/engine/wasmThreadWorker.cjs' }, platform: 'node', format: 'cjs', target: 'node20', outdir: dist },
  // Kernel threads (src/engine/kernels/kernelThreads.ts finds the bundle beside the engine's).
  { ...common, entryPoints: { 'kernel-thread-worker': 'src/engine/kernels/kernelThreadWorker.cjs' }, platform: 'node', format: 'cjs', target: 'node20', outdir: dist },
];

const wasmDir = 'node_modules/@tensorflow/tfjs-backend-wasm/dist';
for (const f of readdirSync(wasmDir)) if (f.endsWith('.wasm')) copyFileSync(join(wasmDir, f), join(dist, f));
// The threaded build's emscripten script, loaded from a file by the engine and by every pthread worker.
copyFileSync('node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js', join(dist, 'tfjs-backend-wasm-threaded-simd.js'));

const present = builds.filter((b) => {
  const entry = Object.values(b.entryPoints)[0];
  try { readdirSync(entry.slice(0, entry.lastIndexOf('/'))); return readdirSync(entry.slice(0, entry.lastIndexOf('/'))).includes(entry.slice(entry.lastIndexOf('/') + 1)); } catch { return false; }
});
if (watch) {
  for (const b of present) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(present.map((b) => esbuild.build(b)));
}
