/** Plain-text tables for the command-line tools, in the style of Kafka's own scripts. */

/** Left-aligned columns separated by two spaces; `-` for missing values. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number | boolean | null)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n')
}
