// Entry point of each pthread worker of the threaded wasm backend (plain CommonJS: worker threads started from
// a tsx run do not get its TypeScript loader). The package ships emscripten's worker script only as a string,
// which browsers load from a blob: URL and Node's worker_threads cannot, so this file runs that string with the
// `require` (worker_threads, fs) and `__filename` it expects in scope.
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');

// The string comes from a template literal, so its "\n" escapes arrived as real newlines inside string literals.
new Function('require', '__filename', wasmWorkerContents.replace(/\n/g, '\\n'))(require, __filename);
