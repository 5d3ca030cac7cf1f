/** Small wording helpers shared by the CLI, the engine's log, the extension and the webview. */

/** "1 thread", "2 threads": a count with its noun, plural by an added "s". */
export function countOf(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
