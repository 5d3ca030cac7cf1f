/** Pure path helpers: which files are images, how models are named, where exports go. */
import * as path from 'node:path';

/** Image file extensions the extension offers to explain (lower case, with the dot). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.bmp', '.tif', '.tiff'] as const;

/** True when the file name has one of the image extensions (any case). */
export function isImagePath(p: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(p).toLowerCase());
}

/** A glob matching image files in either case, for `workspace.findFiles` (which is case-sensitive). */
export function imageGlob(): string {
  const exts = IMAGE_EXTENSIONS.map((e) => e.slice(1));
  return `**/*.{${[...exts, ...exts.map((e) => e.toUpperCase())].join(',')}}`;
}

/** A short name for a model: its folder for a TF.js model.json, else the file name. */
export function modelName(modelPath: string): string {
  const base = path.basename(modelPath);
  if (base === 'model.json') return path.basename(path.dirname(modelPath)) || base;
  return base;
}

/** Default export file beside the image, e.g. cat.vanilla.saliency.png or cat.vanilla.resnet.saliency.npy. */
export function exportPath(imagePath: string, method: string, ext: 'png' | 'npy', model?: string): string {
  const dir = path.dirname(imagePath);
  const stem = path.basename(imagePath, path.extname(imagePath));
  const safeModel = model ? `.${model.replace(/[^\w.-]+/g, '_')}` : '';
  return path.join(dir, `${stem}.${method}${safeModel}.saliency.${ext}`);
}

/** The panel title for an image. */
export function panelTitle(imagePath: string): string {
  return `Saliency: ${path.basename(imagePath)}`;
}

/** A stable key for "the same image" (case-insensitive file systems aside). */
export function imageKey(imagePath: string): string {
  return path.resolve(imagePath);
}

/** Resolves a model path from the settings: absolute as is, relative against the workspace folder. */
export function resolveSettingPath(value: string, workspaceFolder: string | undefined): string | undefined {
  if (!value) return undefined;
  if (path.isAbsolute(value)) return value;
  return workspaceFolder ? path.join(workspaceFolder, value) : undefined;
}
