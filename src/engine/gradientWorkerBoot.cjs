// Boots a gradient helper thread when the engine runs from source (tests under tsx): the thread inherits
// tsx's CommonJS hook through execArgv, so requiring the TypeScript entry works; the bundles never use this.
require(require('node:worker_threads').workerData.entry);
