/** Test helper: locates the developers' shared folder (../shared beside the checkout), absent on users' machines. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root. */
export const REPO_ROOT = resolve(__dirname, '..', '..');
/** ../shared beside the checkout (the SALIENCY_LENS_SHARED variable overrides it). */
export const SHARED_DIR = process.env.SALIENCY_LENS_SHARED ?? resolve(REPO_ROOT, '..', 'shared');
/** The darknet-tiny ImageNet classifier in the shared folder. */
export const DARKNET_MODEL = join(SHARED_DIR, 'models', 'darknet-tiny', 'model.json');
/** A skip reason when the shared folder is absent, else false. */
export const SKIP_WITHOUT_SHARED: string | false = existsSync(DARKNET_MODEL)
  ? false
  : `skipped: ${SHARED_DIR} is absent (the shared models and photos exist only on developer and CI machines)`;
