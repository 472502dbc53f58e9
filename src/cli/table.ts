/** How each column of {@link formatTable} is aligned: `l`eft or `r`ight. */
export type Alignment = ReadonlyArray<'l' | 'r'>

/**
 * Rows as aligned columns, two spaces apart, each line indented and ending in `\n`. By default the
 * first column is left-aligned and the others right-aligned (labels, then figures).
 */
export function formatTable(rows: ReadonlyArray<readonly string[]>, align: Alignment = ['l'], indent = '  '): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  const cell = (text: string, i: number) => ((align[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0))
  return rows.map((row) => `${indent}${row.map(cell).join('  ')}`.trimEnd() + '\n').join('')
}

/** `0.4287` as `42.9 %`. */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`
}

/**
 * USD to four decimals, and below a cent to two significant digits: one cached reply often saves a
 * few millionths of a dollar, which four decimals would show as `$0.0000`.
 */
export function usd(amount: number): string {
  const magnitude = Math.abs(amount)
  const decimals = magnitude === 0 || magnitude >= 0.01 ? 4 : Math.min(100, 1 - Math.floor(Math.log10(magnitude)))
  return `$${amount.toFixed(decimals)}`
}
