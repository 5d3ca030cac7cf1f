/** How the second model of a comparison is asked for "the same" class as the first. */

/** The target to send to the second model, with a note for the panel when it is not the same class. */
export interface MappedTarget {
  target: number | string | undefined;
  note?: string;
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((label, i) => label === b[i]);
}

/**
 * Maps the first model's target to the second model: by index when both have the same label list, by
 * label when the lists differ but share the label, else the second model's own top-1 (and say so).
 * Unknown label lists (a failed `labels` request) fall back to the label, which the engine resolves.
 */
export function mapCompareTarget(
  primary: { index: number; label: string },
  labelsA: readonly string[] | undefined,
  labelsB: readonly string[] | undefined,
): MappedTarget {
  if (labelsA && labelsB && sameLabels(labelsA, labelsB)) return { target: primary.index };
  if (!labelsB) return { target: primary.label, note: `target matched by label "${primary.label}"` };
  const i = labelsB.indexOf(primary.label);
  if (i >= 0) return { target: i, note: `target matched by label "${primary.label}" (class ${i} here)` };
  return { target: undefined, note: `"${primary.label}" is not a class of this model: showing its top-1` };
}
