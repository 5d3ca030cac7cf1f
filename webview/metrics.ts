/**
 * The faithfulness section of a column: deletion/insertion AUCs with an inline SVG chart of both curves,
 * the randomisation check as a bar list of Spearman ρ per layer with a one-line reading, and the
 * Integrated Gradients completeness gap (formatting and geometry in metricsFormat.ts).
 */
import type { FaithfulnessCurve, FaithfulnessMetrics } from '../src/shared/protocol';
import { h, setChildren } from './dom';
import { CHART, curvePoints, formatAuc, formatGap, interpretRandomization } from './metricsFormat';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string>, ...children: (SVGElement | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

function curvesChart(deletion: FaithfulnessCurve | undefined, insertion: FaithfulnessCurve | undefined): SVGSVGElement {
  const { width, height, left, right, top, bottom } = CHART;
  const x1 = width - right;
  const y1 = height - bottom;
  const label = [deletion && `deletion AUC ${formatAuc(deletion.auc)}`, insertion && `insertion AUC ${formatAuc(insertion.auc)}`].filter(Boolean).join(', ');
  return svg('svg', { class: 'curves', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `Target probability as pixels are removed or inserted: ${label}` },
    svg('line', { class: 'grid', x1: String(left), y1: String(top), x2: String(x1), y2: String(top) }),
    svg('line', { class: 'grid', x1: String(left), y1: String((top + y1) / 2), x2: String(x1), y2: String((top + y1) / 2) }),
    svg('line', { class: 'axis', x1: String(left), y1: String(y1), x2: String(x1), y2: String(y1) }),
    svg('line', { class: 'axis', x1: String(left), y1: String(top), x2: String(left), y2: String(y1) }),
    svg('text', { class: 'tick', x: String(left - 4), y: String(top + 4), 'text-anchor': 'end' }, '1'),
    svg('text', { class: 'tick', x: String(left - 4), y: String(y1), 'text-anchor': 'end' }, '0'),
    svg('text', { class: 'tick', x: String(left), y: String(height - 6), 'text-anchor': 'start' }, '0%'),
    svg('text', { class: 'tick', x: String(x1), y: String(height - 6), 'text-anchor': 'end' }, '100% of pixels'),
    ...(deletion ? [svg('polyline', { class: 'curve curve-deletion', points: curvePoints(deletion) })] : []),
    ...(insertion ? [svg('polyline', { class: 'curve curve-insertion', points: curvePoints(insertion) })] : []));
}

function aucLine(kind: 'deletion' | 'insertion', curve: FaithfulnessCurve): HTMLElement {
  const hint = kind === 'deletion' ? 'most salient pixels removed first; lower is better' : 'most salient pixels inserted into a blurred image first; higher is better';
  return h('li', { class: `auc auc-${kind}` },
    h('span', { class: `swatch swatch-${kind}`, 'aria-hidden': 'true' }),
    h('span', { class: 'auc-name' }, kind === 'deletion' ? 'Deletion AUC' : 'Insertion AUC'),
    h('span', { class: 'auc-value' }, formatAuc(curve.auc)),
    h('span', { class: 'auc-hint' }, hint));
}

function randomizationList(list: readonly { layer: string; spearman: number }[]): HTMLElement {
  const rows = list.map((r, i) => {
    const fill = h('span', { class: 'rho-fill' });
    fill.style.width = `${Math.max(0, Math.min(1, r.spearman)) * 100}%`;
    return h('tr', {},
      h('th', { scope: 'row', title: r.layer }, i === 0 ? r.layer : `↓ ${r.layer}`),
      h('td', { class: 'rho-value' }, r.spearman.toFixed(2)),
      h('td', {}, h('span', { class: 'rho-bar', 'aria-hidden': 'true' }, fill)));
  });
  return h('table', { class: 'randomization', 'aria-label': 'Randomisation check: Spearman ρ per re-initialised layer' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Re-initialised down to'), h('th', { scope: 'col' }, 'Spearman ρ'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'bar')))),
    h('tbody', {}, ...rows));
}

/**
 * Fills a column's metrics section. The completeness gap is always shown when present; the curves and
 * the randomisation check only with the Faithfulness toggle on. `pending`: the toggle is on and a
 * computation is running, so the metrics are on their way.
 */
export function renderMetrics(container: HTMLElement, metrics: FaithfulnessMetrics | undefined, showFaithfulness: boolean, pending: boolean): void {
  const parts: HTMLElement[] = [];
  const c = metrics?.completeness;
  if (c) {
    parts.push(h('p', { class: 'completeness', title: '|Σ attribution − (f(x) − f(x₀))| / |f(x) − f(x₀)|' },
      h('span', { class: 'metric-name' }, 'Completeness gap '), h('span', { class: 'gap-value' }, formatGap(c.gap)),
      ` — Σ attribution ${c.sum.toPrecision(4)} vs f(x) − f(x₀) ${c.delta.toPrecision(4)}`));
  }
  if (showFaithfulness) {
    const { deletion, insertion, randomization } = metrics ?? {};
    if (deletion || insertion) {
      parts.push(h('div', { class: 'faithfulness' },
        h('ul', { class: 'aucs' }, deletion && aucLine('deletion', deletion), insertion && aucLine('insertion', insertion)),
        curvesChart(deletion, insertion) as unknown as HTMLElement));
    }
    if (randomization) {
      parts.push(
        h('p', { class: 'randomization-title' }, h('span', { class: 'metric-name' }, 'Randomisation check'), ' (Adebayo et al.): the map’s Spearman rank correlation with the original as layers are re-initialised from the output down'),
        randomizationList(randomization),
        h('p', { class: 'interpretation' }, interpretRandomization(randomization)));
    }
    if (!deletion && !insertion && !randomization) {
      parts.push(h('p', { class: 'hint' }, pending ? 'Faithfulness: measuring…' : 'Faithfulness: not measured for this map.'));
    }
  }
  container.hidden = parts.length === 0;
  setChildren(container, ...(parts.length ? [h('h3', {}, 'Faithfulness'), ...parts] : []));
}
