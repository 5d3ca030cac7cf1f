/** Registers kernels that some backends lack but the executor's gradients need. */

/** Idempotently registers the missing kernels for the current backends. */
export function registerMissingKernels(): void {
  // Filled in by the kernels module (depthwise backprop input on wasm, ...).
}
