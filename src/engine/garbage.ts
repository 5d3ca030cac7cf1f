/**
 * A full garbage collection on request. Loading a model leaves the file's bytes, the decoded weights and their
 * transposes (~3× the weights: 135 MB for ResNet-18) as dead ArrayBuffers, and nothing after loading allocates
 * enough JS memory for V8 to collect them: they stayed resident through every later map (+100 MB peak RSS).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/** Runs a full collection now (V8's gc, exposed at run time as jest's leak detector does); false if unavailable. */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    try {
      if (!exposed) setFlagsFromString('--expose-gc');
      gc = exposed ?? (runInNewContext('gc') as () => void);
    } catch {
      gc = null;
    }
  }
  if (!gc) return false;
  gc();
  return true;
}
