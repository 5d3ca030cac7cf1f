/** The panel's HTML shell: strict CSP, one nonce'd bundled script, local styles; the script builds the UI. */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** Folders the panel may load from (and nothing else). */
export function panelResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')];
}

/** The HTML of a panel webview. */
export function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string, view: 'saliency' | 'features' = 'saliency'): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panel.css'));
  // Canvases are drawn from message data, so images need no source at all; styles come from our file
  // and from the web components' constructable stylesheets (not subject to style-src).
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} blob: data:`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${escapeHtml(title)}</title>
</head>
<body data-view="${view}">
<main id="app" aria-live="polite"><p class="loading">Loading…</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
