/** Test helper: initialises the backend named by SALIENCY_LENS_BACKEND (default cpu) once per test file. */
import { initBackend } from '../../src/engine/backend';
import type { BackendName } from '../../src/shared/protocol';

let ready: Promise<BackendName> | undefined;

/** Initialises the test backend (cpu unless SALIENCY_LENS_BACKEND says otherwise). */
export function testBackend(): Promise<BackendName> {
  ready ??= initBackend((process.env.SALIENCY_LENS_BACKEND as BackendName | undefined) ?? 'cpu');
  return ready;
}
