/** Which image a command is about: its URI argument, the active image preview, or a QuickPick. */
import * as vscode from 'vscode';
import { imageGlob, isImagePath } from './paths';

/** VS Code's built-in image preview. */
export const IMAGE_PREVIEW_VIEW_TYPE = 'imagePreview.previewEditor';

/** The image shown in the active editor tab (VS Code's image preview), if any. */
export function activeImageUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom && input.viewType === IMAGE_PREVIEW_VIEW_TYPE) return input.uri;
  // An image opened as a generic binary/custom tab still counts when its name says it is an image.
  if (input instanceof vscode.TabInputCustom && isImagePath(input.uri.fsPath)) return input.uri;
  return undefined;
}

/** Extracts the image URI from a command argument (explorer: Uri; editor title: Uri; others: ignored). */
export function imageFromArg(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  // Some callers (tests, other extensions) pass { resourceUri } or a path string.
  if (typeof arg === 'string' && arg) return vscode.Uri.file(arg);
  if (arg && typeof arg === 'object' && 'resourceUri' in arg && (arg as { resourceUri: unknown }).resourceUri instanceof vscode.Uri) {
    return (arg as { resourceUri: vscode.Uri }).resourceUri;
  }
  return undefined;
}

/** Asks for a workspace image in a QuickPick; undefined when dismissed. */
export async function pickImage(): Promise<vscode.Uri | undefined> {
  const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { uri?: vscode.Uri; browse?: boolean }>();
  qp.title = 'Saliency Lens: pick an image to explain';
  qp.placeholder = 'Searching the workspace for images…';
  qp.matchOnDescription = true;
  qp.busy = true;
  const browse = { label: '$(folder-opened) Browse…', browse: true, alwaysShow: true };
  qp.items = [browse];
  qp.show();
  const cts = new vscode.CancellationTokenSource();
  void vscode.workspace.findFiles(imageGlob(), '**/node_modules/**', 2000, cts.token).then((uris) => {
    const items = uris
      .sort((a, b) => a.fsPath.localeCompare(b.fsPath))
      .map((uri) => ({ label: `$(file-media) ${uri.path.split('/').pop()}`, description: vscode.workspace.asRelativePath(uri), uri }));
    qp.items = [...items, { label: '', kind: vscode.QuickPickItemKind.Separator }, browse];
    qp.placeholder = items.length ? 'Pick an image' : 'No images in the workspace: browse for one';
    qp.busy = false;
  }, () => { qp.busy = false; });
  const chosen = await new Promise<(vscode.QuickPickItem & { uri?: vscode.Uri; browse?: boolean }) | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]));
    qp.onDidHide(() => resolve(undefined));
  });
  cts.cancel();
  qp.dispose();
  if (!chosen) return undefined;
  if (chosen.uri) return chosen.uri;
  const picked = await vscode.window.showOpenDialog({
    title: 'Saliency Lens: image to explain',
    canSelectMany: false,
    openLabel: 'Explain',
    filters: { Images: ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp', 'tif', 'tiff'] },
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}
