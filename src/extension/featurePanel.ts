/**
 * A feature visualisation panel ("Filters: <layer>" or "Dream: <file>"): a webview around a FeatureCore,
 * with the progress notification and the PNG exports (the webview encodes the tiles; the host saves them).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { oneLine } from '../shared/errors';
import type { FromFeatureWebviewMessage, ToFeatureWebviewMessage } from '../shared/protocol';
import type { EngineClient } from './engineClient';
import { FeatureCore, featureTitle, type FeatureJob } from './featureCore';
import { checkRevivedJob, parseRevivedFeature } from './featureRevive';
import { panelHtml, panelResourceRoots } from './panelHtml';

/** The webview panel type of filter grids and dreams. */
export const FEATURE_VIEW_TYPE = 'saliencyLens.features';

/** What a feature panel needs from the extension. */
export interface FeaturePanelHost {
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  extensionUri: vscode.Uri;
}

/** Opens a panel beside the editor (in the column of `near`, another feature panel, if given) and runs the job in it. */
export async function openFeaturePanel(host: FeaturePanelHost, job: FeatureJob, near?: FeaturePanel): Promise<FeaturePanel> {
  const title = featureTitle(job);
  const column = near && !near.isDisposed ? near.panel.viewColumn ?? vscode.ViewColumn.Beside : vscode.ViewColumn.Beside;
  const webviewPanel = vscode.window.createWebviewPanel(FEATURE_VIEW_TYPE, title, { viewColumn: column, preserveFocus: true },
    { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: panelResourceRoots(host.extensionUri) });
  const panel = new FeaturePanel(host, webviewPanel, job);
  void panel.run();
  return panel;
}

/**
 * Reopens a panel after a window reload from its webview's saved state: the saved images as they were, or
 * a new run (files inside the workspace only), or the last error with Run again. Undefined when unusable.
 */
export function reviveFeaturePanel(host: FeaturePanelHost, webviewPanel: vscode.WebviewPanel, state: unknown): FeaturePanel | undefined {
  const revived = parseRevivedFeature(state);
  if (!revived) {
    webviewPanel.dispose();
    return undefined;
  }
  const folders = (): string[] => (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const exists = (file: string): Promise<boolean> => Promise.resolve(vscode.workspace.fs.stat(vscode.Uri.file(file))).then(() => true, () => false);
  const panel = new FeaturePanel(host, webviewPanel, revived.job, (job) => checkRevivedJob(job, folders(), exists));
  const what = { show: 'the saved images', run: 'computing again', offer: 'the last error, with Run again' }[revived.plan];
  host.log.info(`restored ${featureTitle(revived.job)} after a reload: ${what}`);
  if (revived.plan === 'run') void panel.run();
  return panel;
}

/** One filter grid or dream panel. */
export class FeaturePanel {
  private readonly core: FeatureCore;
  private disposed = false;

  /** `check`: a reason not to run the job, for panels restored from saved state. */
  constructor(private readonly host: FeaturePanelHost, readonly panel: vscode.WebviewPanel, readonly job: FeatureJob,
    check?: (job: FeatureJob) => Promise<string | undefined>) {
    this.core = new FeatureCore({
      check,
      engine: host.engine,
      log: host.log,
      post: (m) => this.post(m),
      withProgress: (task) => Promise.resolve(vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Saliency Lens', cancellable: true },
        (progress, token) => task(progress, (handler) => { token.onCancellationRequested(handler); }),
      )),
      showError: (message) => { void vscode.window.showErrorMessage(message); },
    }, job);
    panel.title = featureTitle(job);
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'icon.png');
    panel.webview.options = { enableScripts: true, localResourceRoots: panelResourceRoots(host.extensionUri) };
    panel.webview.html = panelHtml(panel.webview, host.extensionUri, panel.title, 'features');
    panel.webview.onDidReceiveMessage((m: FromFeatureWebviewMessage) => this.onMessage(m).catch((err) => host.log.error(`feature panel message ${m?.type}: ${oneLine(err)}`)));
    panel.onDidDispose(() => {
      this.disposed = true;
      this.core.dispose();
    });
  }

  /** True once the user closed the panel. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Runs (or re-runs) the job; never rejects. */
  run(): Promise<void> {
    return this.core.run();
  }

  private async onMessage(m: FromFeatureWebviewMessage): Promise<void> {
    if (m.type === 'exportPngs') await this.export(m.files);
    else this.core.onMessage(m);
  }

  /** Saves one PNG through a save dialog, or several into a folder (beside the model by default). */
  private async export(files: { name: string; data: ArrayBuffer }[]): Promise<void> {
    if (files.length === 0) {
      void vscode.window.showWarningMessage('Saliency Lens: nothing to export yet.');
      return;
    }
    const near = this.job.kind === 'dream' ? path.dirname(this.job.params.imagePath) : path.dirname(this.job.params.modelPath);
    const safe = (n: string): string => n.replace(/[^\w.-]+/g, '_');
    let targets: vscode.Uri[];
    if (files.length === 1) {
      const uri = await vscode.window.showSaveDialog({
        title: 'Save the image as PNG', defaultUri: vscode.Uri.file(path.join(near, safe(files[0].name))), filters: { 'PNG image': ['png'] }, saveLabel: 'Save',
      });
      if (!uri) return;
      targets = [uri];
    } else {
      const dirs = await vscode.window.showOpenDialog({
        title: `Save ${files.length} PNG files into…`, canSelectFiles: false, canSelectFolders: true, canSelectMany: false,
        defaultUri: vscode.Uri.file(near), openLabel: 'Save Here',
      });
      if (!dirs?.[0]) return;
      targets = files.map((f) => vscode.Uri.joinPath(dirs[0], safe(f.name)));
    }
    try {
      for (let i = 0; i < targets.length; i++) await vscode.workspace.fs.writeFile(targets[i], new Uint8Array(files[i].data));
      this.host.log.info(`saved ${targets.map((t) => t.fsPath).join(', ')}`);
      void vscode.window.showInformationMessage(`Saliency Lens: saved ${targets.length === 1 ? path.basename(targets[0].fsPath) : `${targets.length} PNG files`}`);
    } catch (err) {
      void vscode.window.showErrorMessage(`Saliency Lens: could not save: ${oneLine(err)}`);
    }
  }

  private post(message: ToFeatureWebviewMessage): void {
    if (this.disposed) return;
    void this.panel.webview.postMessage(message).then(undefined, () => undefined);
  }
}
