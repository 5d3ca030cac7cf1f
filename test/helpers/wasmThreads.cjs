// Preload for tests that start the 'wasm' backend themselves (tf.setBackend('wasm')): makes it the threaded
// build when SALIENCY_LENS_THREADS asks for more than one thread, e.g.
//   SALIENCY_LENS_THREADS=2 node --import tsx --import ./test/helpers/wasmThreads.cjs --test test/unit/kernels.test.ts
// Plain CommonJS and a no-op off the main thread: the pthread workers inherit the preloads but not tsx's loader.
const { isMainThread } = require('node:worker_threads');

if (isMainThread && process.env.SALIENCY_LENS_THREADS) {
  require('@tensorflow/tfjs-backend-wasm');
  const { wantedWasmThreads } = require('../../src/engine/backend.ts');
  const { installThreadedWasm } = require('../../src/engine/wasmThreads.ts');
  installThreadedWasm(wantedWasmThreads());
}
