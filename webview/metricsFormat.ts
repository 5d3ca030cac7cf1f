/** Pure helpers of the faithfulness display (no DOM): number formats, chart geometry, the randomisation reading. */
import type { FaithfulnessCurve } from '../src/shared/protocol';

/** Chart geometry (SVG user units; the SVG scales with the column). */
export const CHART = { width: 240, height: 120, left: 30, right: 8, top: 8, bottom: 22 };

/** An AUC with three decimals. */
export function formatAuc(auc: number): string {
  return Number.isFinite(auc) ? auc.toFixed(3) : '–';
}

/** A relative gap as a percentage with sensible precision. */
export function formatGap(gap: number): string {
  if (!Number.isFinite(gap)) return '–';
  const pct = gap * 100;
  return pct >= 10 ? `${pct.toFixed(0)}%` : pct >= 0.1 ? `${pct.toFixed(1)}%` : pct > 0 ? '<0.1%' : '0%';
}

/** The SVG polyline points of a curve: fraction on x (0–1), score on y (0–1, clamped). */
export function curvePoints(curve: Pick<FaithfulnessCurve, 'fractions' | 'scores'>, box = CHART): string {
  const w = box.width - box.left - box.right;
  const hgt = box.height - box.top - box.bottom;
  const n = Math.min(curve.fractions.length, curve.scores.length);
  const pts: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = Math.min(1, Math.max(0, curve.fractions[i]));
    const s = Number.isFinite(curve.scores[i]) ? Math.min(1, Math.max(0, curve.scores[i])) : 0;
    pts.push(`${(box.left + f * w).toFixed(1)},${(box.top + (1 - s) * hgt).toFixed(1)}`);
  }
  return pts.join(' ');
}

/** One line reading the randomisation check from its last (most randomised) correlation. */
export function interpretRandomization(list: readonly { layer: string; spearman: number }[]): string {
  if (list.length === 0) return 'No layer with weights could be re-initialised.';
  const last = list[list.length - 1];
  const rho = last.spearman.toFixed(2);
  const what = `With the weights re-initialised down to ${last.layer}, the map’s rank correlation with the original is ${rho}`;
  if (last.spearman < 0.5) return `${what}: the map depends on what the model learned (passes the sanity check).`;
  if (last.spearman < 0.8) return `${what}: the map depends only partly on what the model learned; read it with care.`;
  return `${what}: the map barely depends on the weights; it shows the image more than the model (fails the sanity check).`;
}
