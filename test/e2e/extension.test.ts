/**
 * The extension in a real VS Code (code-server): install the packaged .vsix, right-click an image in the
 * explorer, explain it with the demo model, check the overlay and the top-1 label, re-colour without a new
 * engine request, explain a corrupt image, "Visualize Filters…" from the command palette (layer block3_relu,
 * first 4 filters: a grid of 4 painted tiles, one enlarged), reload the window (panels restored: the grid
 * from its saved state without recomputing), switch to high-contrast and dark themes, switch the method to
 * Grad-CAM (the layer used is shown) and turn on Faithfulness for Integrated Gradients (AUCs, curves,
 * randomisation check), then "Deep Dream…" from the explorer menu. Screenshots of every step go to test-results/e2e/.
 * Skips when code-server is not installed, unless SALIENCY_LENS_E2E_REQUIRED=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import {
  extensionLog, findWebviewFrame, launchBrowser, missingPrerequisite, removeDir, run, screenshot, SHOTS_DIR, sleep, startCodeServer,
  tempDir, waitFor, type CodeServer,
} from './harness';

const ROOT = process.cwd();
const REQUIRED = process.env.SALIENCY_LENS_E2E_REQUIRED === '1';
// The demo model and photo; overridable to try other models (SALIENCY_LENS_E2E_MODEL=dir/model.json).
const MODEL_JSON = resolve(process.env.SALIENCY_LENS_E2E_MODEL ?? join(ROOT, 'media', 'demo', 'model', 'model.json'));
const FILTER_LAYER = 'block3_relu';
const DREAM_LAYER = 'block2_relu';
const IMAGE = resolve(process.env.SALIENCY_LENS_E2E_IMAGE ?? join(ROOT, 'media', 'demo', 'demo.png'));

function skipReason(): string | undefined {
  return missingPrerequisite()
    ?? (existsSync(MODEL_JSON) ? undefined : `the demo model ${MODEL_JSON} is missing`)
    ?? (existsSync(IMAGE) ? undefined : `the demo image ${IMAGE} is missing`);
}

interface OverlayProbe { width: number; height: number; distinct: number; hash: number }

// The few DOM shapes the page-side functions use (this file compiles without the DOM library).
interface PageCanvas { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } }
interface PageWindow { document: { body: { dataset: Record<string, string | undefined>; classList: { contains(name: string): boolean } }; querySelector(selector: string): PageCanvas | null } }

/** A data attribute of the webview's body (the panel exposes counters there). */
function bodyData(frame: Frame, key: string): Promise<string | undefined> {
  return frame.evaluate((k) => (globalThis as unknown as PageWindow).document.body.dataset[k], key);
}

/** Reads the overlay canvas of slot 0: size, number of distinct colours and a hash of the pixels. */
function probeOverlay(frame: Frame): Promise<OverlayProbe> {
  return frame.evaluate(() => {
    const canvas = (globalThis as unknown as PageWindow).document.querySelector('.slot[data-slot="0"] canvas[data-view="overlay"]');
    if (!canvas) return { width: 0, height: 0, distinct: 0, hash: 0 };
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set<number>();
    let hash = 2166136261;
    for (let i = 0; i < data.length; i += 4) {
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      hash = Math.imul(hash ^ (data[i] + 3 * data[i + 1] + 7 * data[i + 2]), 16777619) >>> 0;
    }
    return { width: canvas.width, height: canvas.height, distinct: colours.size, hash };
  });
}

/** The number of distinct colours on each tile canvas of a filter grid. */
function tileColours(frame: Frame): Promise<number[]> {
  return frame.evaluate(() => {
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<PageCanvas> } }).document;
    return Array.from(doc.querySelectorAll('.tile canvas'), (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      for (let i = 0; i < d.length; i += 4) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return colours.size;
    });
  });
}

async function explorerRow(page: Page, name: string) {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ state: 'visible', timeout: 60_000 });
  return row;
}

/** Right-clicks a file in the explorer and runs "Explain Image…" (or another entry) from its context menu. */
async function explainFromExplorer(page: Page, name: string, shot: string, entry = 'Explain Image…'): Promise<void> {
  const row = await explorerRow(page, name);
  const item = page.getByRole('menuitem', { name: entry });
  // The remote extension host registers menu contributions a while after the workbench shows: retry.
  await waitFor(`"${entry}" in the explorer context menu`, async () => {
    await row.click({ button: 'right' });
    if (await item.waitFor({ state: 'visible', timeout: 2000 }).then(() => true, () => false)) return true;
    await page.keyboard.press('Escape');
    return false;
  }, 90_000, 1000);
  await screenshot(page, shot);
  await item.click();
}

/** Runs a command from the command palette by its title. */
async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('Control+Shift+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  await quickPickItem(page, title).click();
}

/** The QuickPick row whose label is exactly `label`. */
function quickPickItem(page: Page, label: string) {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const exact = new RegExp(`^${escaped}$`);
  return page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: exact }) }).first();
}

/** Picks an option of a `<vscode-single-select>` in the panel by its label. */
async function chooseOption(frame: Frame, selector: string, label: string): Promise<void> {
  await frame.locator(selector).click();
  await frame.locator(selector).getByRole('option', { name: label, exact: true }).click();
}

function count(text: string, re: RegExp): number {
  return text.split('\n').filter((l) => re.test(l)).length;
}

test('explain an image from the explorer in code-server', { timeout: 600_000 }, async (t) => {
  const reason = skipReason();
  if (reason) {
    if (REQUIRED) assert.fail(`e2e test required but cannot run: ${reason}`);
    t.skip(`${reason}; skipping the e2e test`);
    return;
  }

  rmSync(SHOTS_DIR, { recursive: true, force: true });
  // What the engine itself predicts for the demo photo: the panel must show the same top-1.
  run('node', ['scripts/build.mjs']);
  const predicted = JSON.parse(run('node', ['dist/cli.js', 'predict', IMAGE, '--model', MODEL_JSON, '--json'])) as { predictions: { label: string }[] };
  const expectedTop1 = predicted.predictions[0].label;

  run('npm', ['run', '--silent', 'package']);
  const vsix = readdirSync(ROOT).filter((f) => f.endsWith('.vsix')).map((f) => join(ROOT, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  assert.ok(vsix, 'npm run package produced a .vsix');

  const base = tempDir('saliency-lens-e2e-');
  const workspace = join(base, 'workspace');
  cpSync(join(MODEL_JSON, '..'), join(workspace, 'demo-model'), { recursive: true });
  cpSync(IMAGE, join(workspace, 'demo.png'));
  writeFileSync(join(workspace, 'corrupt.png'), 'this is not a PNG file, whatever its name says\n');
  writeFileSync(join(workspace, 'train.py'), '# the user\'s training script: the panel opens beside it\n');
  // The layer the engine picks for Grad-CAM by default: the panel must name it.
  const camLayer = (JSON.parse(run('node', ['dist/cli.js', 'explain', IMAGE, '--model', MODEL_JSON, '--method', 'gradcam', '--json', '--out', join(base, 'cli-out')])) as { layer: string }).layer;
  assert.ok(camLayer, 'the CLI names the Grad-CAM layer');

  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  try {
    // Few steps on small images keep the filter grid quick.
    server = await startCodeServer(vsix, workspace, base, { 'saliencyLens.filterSteps': 32, 'saliencyLens.filterSize': 64 });
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await explorerRow(page, 'demo.png');
    // The workspace holds a model.json, so the extension activates by itself and shows its status item.
    await page.locator('.statusbar-item', { hasText: 'No model' }).first().waitFor({ state: 'visible', timeout: 90_000 });
    await screenshot(page, '01-workspace');

    // Step 1: explorer context menu → Explain Image… → model QuickPick.
    await explainFromExplorer(page, 'demo.png', '02-context-menu');
    const pickRow = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'demo-model' }).first();
    await pickRow.waitFor({ state: 'visible', timeout: 30_000 });
    await screenshot(page, '03-model-quickpick');
    await pickRow.click();

    // Step 2: the panel shows a non-blank overlay and the engine's top-1 label.
    const frame = await waitFor('the Saliency panel webview', () => findWebviewFrame(page, '#slots', 'demo.png'), 60_000);
    await waitFor('a result in the panel', async () => Number(await bodyData(frame, 'results') ?? 0) >= 1, 180_000);
    const before = await waitFor('a painted overlay', async () => { const p = await probeOverlay(frame); return p.width > 1 ? p : undefined; });
    assert.ok(before.distinct > 50, `overlay looks blank: ${before.distinct} distinct colours`);
    const top1 = await frame.locator('.slot[data-slot="0"] .predictions li .pred-label').first().textContent();
    assert.equal(top1, expectedTop1);
    const predictions = await frame.locator('.slot[data-slot="0"] .predictions li').count();
    assert.equal(predictions, Math.min(5, predicted.predictions.length));
    await waitFor('the overlay timing in the log', () => /click → overlay \d+ ms \(engine start \d+, load \d+, inference \d+, attribution \d+, other \d+, messaging \d+, render \d+\)/.test(extensionLog(server!.userDataDir)), 15_000);
    await screenshot(page, '04-panel-overlay');

    // Step 3: another colour map re-renders in the webview; the engine is not asked again.
    const logBefore = extensionLog(server.userDataDir);
    const requestsBefore = count(logBefore, /request \d+ \(explain\) (answered|failed)/);
    const resultsBefore = await bodyData(frame, 'results');
    await frame.locator('#colormap').click();
    await frame.locator('#colormap').getByRole('option', { name: 'jet', exact: true }).click();
    await waitFor('the colour map to change', async () => (await bodyData(frame, 'colormap')) === 'jet', 10_000);
    const after = await waitFor('a repainted overlay', async () => { const p = await probeOverlay(frame); return p.hash !== before.hash ? p : undefined; }, 10_000);
    assert.ok(after.distinct > 50);
    await waitFor('the display change in the log', () => /display changed in the panel: jet/.test(extensionLog(server!.userDataDir)), 15_000);
    await sleep(1000);
    assert.equal(await bodyData(frame, 'results'), resultsBefore, 'no new result arrived');
    assert.equal(count(extensionLog(server.userDataDir), /request \d+ \(explain\) (answered|failed)/), requestsBefore, 'no new engine request');
    await screenshot(page, '05-colormap-jet');

    // Step 4: a corrupt image: the error shows in its panel and as a one-line notification.
    await explainFromExplorer(page, 'corrupt.png', '06-context-menu-corrupt');
    const bad = await waitFor('the corrupt image panel', () => findWebviewFrame(page, '#slots', 'corrupt.png'), 60_000);
    const errorText = await waitFor('the error in the panel', async () => {
      const el = bad.locator('.slot[data-slot="0"] .error');
      return (await el.isVisible()) ? el.textContent() : undefined;
    }, 60_000);
    assert.match(errorText ?? '', /corrupt\.png: /);
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'Saliency Lens:' }).first();
    await toast.waitFor({ state: 'visible', timeout: 15_000 });
    const toastText = (await toast.locator('.notification-list-item-message').textContent()) ?? '';
    assert.match(toastText, /corrupt\.png/);
    assert.ok(!toastText.includes('\n'), 'the notification is one line');
    await screenshot(page, '07-corrupt-image-error');

    // Step 5: "Visualize Filters…" from the command palette: layer, first N = 4, a grid of 4 painted tiles.
    await runCommand(page, 'Saliency Lens: Visualize Filters…');
    const layerRow = quickPickItem(page, FILTER_LAYER);
    await page.locator('.quick-input-widget input').fill(FILTER_LAYER);
    await layerRow.waitFor({ state: 'visible', timeout: 60_000 });
    assert.match((await layerRow.textContent()) ?? '', /8×8×64/, 'the layer picker shows output shapes');
    await layerRow.click();
    await quickPickItem(page, 'First N').click();
    const countBox = page.locator('.quick-input-widget input[aria-label^="First N filters"]');
    await countBox.waitFor({ state: 'visible', timeout: 10_000 });
    await countBox.fill('4');
    await countBox.press('Enter');
    const grid = await waitFor('the filter grid panel', () => findWebviewFrame(page, '#grid', `Filters: ${FILTER_LAYER}`), 60_000);
    await waitFor('4 finished tiles', async () => (await bodyData(grid, 'done')) === 'true' && (await bodyData(grid, 'painted')) === '4', 120_000, 500);
    assert.equal(await bodyData(grid, 'tiles'), '4');
    const distinct = await tileColours(grid);
    assert.equal(distinct.length, 4);
    assert.ok(distinct.every((n) => n > 50), `filter tiles look blank: ${distinct.join(', ')} distinct colours`);
    assert.match((await grid.locator('.tile[data-tile="0"] .tile-caption').textContent()) ?? '', /^#0 · \S+ → \S+$/);
    await page.locator('.notifications-toasts .notification-toast', { hasText: 'Visualising' }).first().waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
    await screenshot(page, '08-filter-grid');
    // Enlarge a tile with the keyboard and go back with Escape.
    await grid.locator('.tile[data-tile="1"]').focus();
    await grid.locator('.tile[data-tile="1"]').press('Enter');
    await grid.locator('#enlarged').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match((await grid.locator('#enlarged-title').textContent()) ?? '', /^#1 · /);
    await grid.locator('#close-enlarged').press('Escape');
    await grid.locator('#grid').waitFor({ state: 'visible', timeout: 10_000 });
    assert.ok(Number(await bodyData(grid, 'live') ?? 0) >= 1, 'intermediate images arrived before the result');
    const filterRequests = count(extensionLog(server.userDataDir), /request \d+ \(visualizeFilters\) answered/);
    assert.equal(filterRequests, 1);

    // Step 6: a window reload restores the panels (serializers + webview state): the filter grid with the
    // same pixels and no new computation; the saliency panel with its colour map and a result.
    // Reload through VS Code's own command, as a user does: its shutdown flushes the webview state to
    // storage, which a bare browser reload may cut short.
    await Promise.all([page.waitForEvent('load', { timeout: 90_000 }), runCommand(page, 'Developer: Reload Window')]);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    const filtersTab = page.locator('.tab', { hasText: `Filters: ${FILTER_LAYER}` }).first();
    await filtersTab.waitFor({ state: 'visible', timeout: 60_000 });
    await filtersTab.click();
    const restoredGrid = await waitFor('the restored filter grid', () => findWebviewFrame(page, '#grid', `Filters: ${FILTER_LAYER}`), 90_000);
    await waitFor('its 4 saved tiles', async () => (await bodyData(restoredGrid, 'done')) === 'true' && (await bodyData(restoredGrid, 'painted')) === '4', 30_000);
    assert.deepEqual(await tileColours(restoredGrid), distinct, 'the tiles show the pixels they had before the reload');
    await waitFor('the restore in the log', () => /restored Filters: \S+ after a reload: the saved images/.test(extensionLog(server!.userDataDir)), 30_000);
    assert.equal(count(extensionLog(server.userDataDir), /request \d+ \(visualizeFilters\) answered/), filterRequests, 'no new filter computation');
    await screenshot(page, '09-filter-grid-restored');
    const demoTab = page.locator('.tab', { hasText: 'Saliency: demo.png' }).first();
    await demoTab.waitFor({ state: 'visible', timeout: 60_000 });
    await demoTab.click();
    const revived = await waitFor('the restored demo.png panel', () => findWebviewFrame(page, '#slots', 'demo.png'), 90_000);
    await waitFor('a result in the restored panel', async () => Number(await bodyData(revived, 'results') ?? 0) >= 1, 180_000);
    assert.equal(await bodyData(revived, 'colormap'), 'jet', 'the panel kept its colour map');
    assert.equal(await revived.locator('.slot[data-slot="0"] .predictions li .pred-label').first().textContent(), expectedTop1);
    await screenshot(page, '10-restored-after-reload');

    // Step 7: the panel follows the colour theme, including high contrast.
    for (const [theme, bodyClass, shot] of [['Dark High Contrast', 'vscode-high-contrast', '11-high-contrast'], ['Dark Modern', 'vscode-dark', '12-dark-theme']]) {
      await runCommand(page, 'Preferences: Color Theme');
      await page.keyboard.type(theme);
      await quickPickItem(page, theme).click();
      await waitFor(`the panel in ${theme}`, () => revived.evaluate((c) => (globalThis as unknown as PageWindow).document.body.classList.contains(c), bodyClass), 30_000);
      await sleep(500);
      await screenshot(page, shot);
    }

    // Step 8: Grad-CAM from the panel's method picker: a new overlay, the layer parameter, and the layer used.
    const beforeCam = await probeOverlay(revived);
    const resultsBeforeCam = Number(await bodyData(revived, 'results') ?? 0);
    await chooseOption(revived, '#method', 'Grad-CAM');
    await waitFor('the Grad-CAM result', async () => Number(await bodyData(revived, 'results') ?? 0) > resultsBeforeCam
      && (await revived.locator('.slot[data-slot="0"] .layer-used').getAttribute('data-layer')) !== '', 60_000);
    const layerText = (await revived.locator('.slot[data-slot="0"] .layer-used').textContent()) ?? '';
    assert.match(layerText, new RegExp(`layer ${camLayer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`));
    const cam = await waitFor('the Grad-CAM overlay', async () => { const p = await probeOverlay(revived); return p.hash !== beforeCam.hash ? p : undefined; }, 10_000);
    assert.ok(cam.distinct > 50, `Grad-CAM overlay looks blank: ${cam.distinct} distinct colours`);
    assert.ok(await revived.locator('[data-param="layer"]').isVisible(), 'the layer picker is shown for Grad-CAM');
    assert.ok(!(await revived.locator('[data-param="samples"]').isVisible()), 'SmoothGrad\'s parameters are not');
    await waitFor('the layer list in the picker', async () => (await revived.locator('#param-layer vscode-option').count()) > 1, 30_000);
    await page.locator('.notifications-toasts .notification-toast', { hasText: 'Grad-CAM' }).first().waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
    await screenshot(page, '13-gradcam');

    // Step 9: Faithfulness for a gradient method: deletion/insertion AUCs, their curves, the randomisation check.
    const resultsBeforeIg = Number(await bodyData(revived, 'results') ?? 0);
    await chooseOption(revived, '#method', 'Integrated Gradients');
    await waitFor('the Integrated Gradients result', async () => Number(await bodyData(revived, 'results') ?? 0) > resultsBeforeIg
      && (await revived.locator('.slot[data-slot="0"] .completeness').count()) > 0, 90_000);
    await revived.locator('#metrics').click();
    const aucs = await waitFor('the AUCs in the panel', async () => {
      const deletion = await revived.locator('.slot[data-slot="0"] .auc-deletion .auc-value').textContent().catch(() => null);
      const insertion = await revived.locator('.slot[data-slot="0"] .auc-insertion .auc-value').textContent().catch(() => null);
      return deletion && insertion ? { deletion, insertion } : undefined;
    }, 120_000, 500);
    assert.match(aucs.deletion, /^[01]\.\d{3}$/);
    assert.match(aucs.insertion, /^[01]\.\d{3}$/);
    assert.equal(await revived.locator('.slot[data-slot="0"] svg.curves polyline').count(), 2, 'both curves are drawn');
    assert.ok(await revived.locator('.slot[data-slot="0"] .randomization tbody tr').count() >= 1, 'the randomisation check lists layers');
    assert.match((await revived.locator('.slot[data-slot="0"] .interpretation').textContent()) ?? '', /rank correlation/);
    assert.match(extensionLog(server.userDataDir), /with faithfulness metrics/);
    await revived.locator('.slot[data-slot="0"] .metrics').scrollIntoViewIfNeeded();
    await sleep(300);
    await screenshot(page, '14-faithfulness');

    // Step 10: "Deep Dream…" from the explorer context menu: a layer, then the dreamed image in its panel.
    await explainFromExplorer(page, 'demo.png', '15-context-menu-dream', 'Deep Dream…');
    await page.locator('.quick-input-widget input').fill(DREAM_LAYER);
    await quickPickItem(page, DREAM_LAYER).click();
    const dream = await waitFor('the dream panel', () => findWebviewFrame(page, '#grid', 'Dream: demo.png'), 60_000);
    await waitFor('the dreamed image', async () => (await bodyData(dream, 'done')) === 'true' && (await bodyData(dream, 'painted')) === '1', 120_000, 500);
    assert.match((await dream.locator('.tile[data-tile="0"] .tile-caption').textContent()) ?? '', /^whole layer · /);
    await page.locator('.notifications-toasts .notification-toast', { hasText: 'Dreaming' }).first().waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
    await screenshot(page, '16-deep-dream');
  } catch (err) {
    if (browser) {
      const pages = browser.contexts().flatMap((c) => c.pages());
      if (pages[0]) await screenshot(pages[0], '99-failure').catch(() => undefined);
    }
    if (server) console.error(`--- code-server output ---\n${server.output().slice(-4000)}\n--- extension log ---\n${extensionLog(server.userDataDir).slice(-4000)}`);
    throw err;
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    removeDir(base);
  }
});
