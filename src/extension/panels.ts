/**
 * The open Saliency panels (one per image), the watchers that refresh them when a model file is
 * rewritten (a new training checkpoint), and the reaction to model and settings changes.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Settings } from './config';
import type { EngineClient } from './engineClient';
import { pickCompareMethod } from './methodPick';
import { PANEL_VIEW_TYPE, SaliencyPanel, type PanelCommand, type PanelHost } from './panel';
import { parseRevivedState } from './revive';
import { imageKey, modelName, panelTitle } from './paths';

/** The services panels share. */
export interface PanelServices {
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  extensionUri: vscode.Uri;
  settings(): Settings;
}

/** Debounce for model file changes: a checkpoint is several files written in a burst. */
const REFRESH_DELAY_MS = 1500;

/** Keeps track of panels and model watchers. */
export class PanelManager implements vscode.Disposable {
  private readonly panels = new Map<string, SaliencyPanel>();
  private readonly watchers = new Map<string, { watcher: vscode.FileSystemWatcher; timer?: NodeJS.Timeout }>();
  private lastActive: SaliencyPanel | undefined;
  private readonly host: PanelHost;

  constructor(private readonly services: PanelServices,
    private readonly compareCommand: (panel: SaliencyPanel) => Promise<void>) {
    this.host = {
      ...services,
      command: (panel, command) => this.onPanelCommand(panel, command),
      disposed: (panel) => {
        if (this.panels.get(imageKey(panel.imagePath)) === panel) this.panels.delete(imageKey(panel.imagePath));
        if (this.lastActive === panel) this.lastActive = undefined;
        this.syncWatchers();
      },
      modelsChanged: () => this.syncWatchers(),
    };
  }

  /** The panel the user looked at last (the active one if a panel is active). */
  get active(): SaliencyPanel | undefined {
    for (const p of this.panels.values()) if (p.panel.active) return p;
    return this.lastActive;
  }

  /** Opens (or re-uses) the panel of an image and computes it with the given model(s). */
  async explain(imagePath: string, modelPaths: string[], startedAt: number): Promise<void> {
    const key = imageKey(imagePath);
    let panel = this.panels.get(key);
    if (panel) {
      panel.setPrimaryModel(modelPaths[0]);
      if (modelPaths.length > 1) panel.setCompareModel(modelPaths[1]);
      panel.reveal();
    } else {
      // Panels gather in one column beside the code rather than each opening yet another column.
      const column = this.active?.panel.viewColumn ?? vscode.ViewColumn.Beside;
      const webviewPanel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, panelTitle(imagePath),
        { viewColumn: column, preserveFocus: true }, { enableScripts: true });
      panel = this.track(new SaliencyPanel(this.host, webviewPanel, { imagePath, models: modelPaths }, false));
    }
    this.syncWatchers();
    await panel.compute('command', startedAt);
  }

  /** Restores a panel after a window reload from the state its webview saved. */
  async revive(webviewPanel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const s = parseRevivedState(state);
    if (!s || this.panels.has(imageKey(s.imagePath))) {
      webviewPanel.dispose();
      return;
    }
    const panel = this.track(new SaliencyPanel(this.host, webviewPanel, s, true));
    this.syncWatchers();
    await panel.compute('restored after reload');
  }

  /** Moves every panel to the newly selected workspace model. */
  async modelSelected(modelPath: string): Promise<void> {
    const stale = [...this.panels.values()].filter((p) => p.modelPaths[0] !== modelPath);
    for (const p of stale) p.setPrimaryModel(modelPath);
    this.syncWatchers();
    await Promise.all(stale.map((p) => p.compute(`model changed to ${modelName(modelPath)}`)));
  }

  /** Pushes display settings to the panels after the user changed them in the settings. */
  settingsChanged(settings: Settings): void {
    for (const p of this.panels.values()) p.applySettings(settings);
  }

  dispose(): void {
    for (const w of this.watchers.values()) {
      if (w.timer) clearTimeout(w.timer);
      w.watcher.dispose();
    }
    this.watchers.clear();
    for (const p of [...this.panels.values()]) p.panel.dispose();
  }

  private track(panel: SaliencyPanel): SaliencyPanel {
    this.panels.set(imageKey(panel.imagePath), panel);
    this.lastActive = panel;
    panel.panel.onDidChangeViewState((e) => { if (e.webviewPanel.active) this.lastActive = panel; });
    return panel;
  }

  private onPanelCommand(panel: SaliencyPanel, command: PanelCommand): void {
    if (command === 'selectModel') void vscode.commands.executeCommand('saliencyLens.selectModel');
    else if (command === 'compareModels') void this.compareCommand(panel).catch((err) => this.services.log.error(String(err)));
    else if (command === 'compareMethod') void this.compareMethod(panel).catch((err) => this.services.log.error(String(err)));
    else {
      panel.setCompareModel(undefined);
      this.syncWatchers();
    }
  }

  /** Adds (or changes) the panel's second column computed with another method on the same model. */
  private async compareMethod(panel: SaliencyPanel): Promise<void> {
    const { method, compareMethod } = panel.methods;
    const picked = await pickCompareMethod(method, compareMethod);
    if (!picked) return;
    // Comparing methods uses the first model only: a model comparison ends.
    await panel.compareMethod(picked);
    this.syncWatchers();
  }

  /** Watches exactly the model files the open panels use. */
  private syncWatchers(): void {
    const inUse = new Set<string>();
    for (const p of this.panels.values()) for (const m of p.modelPaths) inUse.add(m);
    for (const [m, w] of this.watchers) {
      if (inUse.has(m)) continue;
      if (w.timer) clearTimeout(w.timer);
      w.watcher.dispose();
      this.watchers.delete(m);
    }
    for (const m of inUse) {
      if (this.watchers.has(m)) continue;
      const base = path.basename(m);
      // A TF.js checkpoint rewrites model.json and its weight shards; watch them all.
      const glob = base === 'model.json' ? '{model.json,*.bin}' : base;
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(m)), glob));
      const entry: { watcher: vscode.FileSystemWatcher; timer?: NodeJS.Timeout } = { watcher };
      const changed = (): void => {
        if (entry.timer) clearTimeout(entry.timer);
        entry.timer = setTimeout(() => { entry.timer = undefined; void this.modelFileChanged(m); }, REFRESH_DELAY_MS);
      };
      watcher.onDidChange(changed);
      watcher.onDidCreate(changed);
      this.watchers.set(m, entry);
    }
  }

  private async modelFileChanged(modelPath: string): Promise<void> {
    if (!this.services.settings().autoRefresh) {
      this.services.log.info(`${modelPath} changed on disk (autoRefresh is off)`);
      return;
    }
    const affected = [...this.panels.values()].filter((p) => p.modelPaths.includes(modelPath));
    if (affected.length === 0) return;
    this.services.log.info(`${modelPath} changed on disk: refreshing ${affected.length} panel(s)`);
    await Promise.all(affected.map((p) => p.compute('new checkpoint on disk')));
  }
}
