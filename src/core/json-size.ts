/**
 * How many values a JSON text holds (objects, arrays, strings, keys among them, numbers, literals),
 * counted without parsing it and without going past `max` (the count returned is then over `max`).
 * Parsing is what costs: a 4 MiB body of `[{},{},…]` or of numbers is a million values, seconds of
 * event loop and gigabytes once parsed, validated, hashed and forwarded, where a 4 MiB prompt is one
 * string. Strings are skipped with `indexOf`, so a string-heavy text costs next to nothing. Invalid
 * JSON is not judged here: the parser does that.
 */
export function countJsonValues(text: string, max: number): number {
  let count = 0
  const length = text.length
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    // Separators and white space start nothing.
    if (c === 0x2c || c === 0x3a || c === 0x5d || c === 0x7d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue
    if (++count > max) return count
    if (c === 0x22) i = closingQuote(text, i)
    else if (c !== 0x7b && c !== 0x5b) {
      // A number or a literal: up to the next separator.
      while (i + 1 < length && !isSeparator(text.charCodeAt(i + 1))) i++
    }
  }
  return count
}

function isSeparator(c: number): boolean {
  return c === 0x2c || c === 0x5d || c === 0x7d || c === 0x3a || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/** The index of the quote closing the string opened at `open` (the text's length if it never closes). */
function closingQuote(text: string, open: number): number {
  let at = open
  for (;;) {
    at = text.indexOf('"', at + 1)
    if (at === -1) return text.length
    let backslashes = 0
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++
    if (backslashes % 2 === 0) return at
  }
}

/**
 * The top-level field under which `value` nests deeper than `maxDepth` (`body` for the body itself),
 * or undefined. Iterative and allocation-light on purpose: it runs on every request, and it is the
 * bound that lets every later walk over the body recurse safely.
 */
export function tooDeep(value: Record<string, unknown>, maxDepth: number): string | undefined {
  for (const field in value) {
    const child = value[field]
    if (child === null || typeof child !== 'object') continue
    const stack: unknown[] = [child]
    const depths: number[] = [2]
    while (stack.length > 0) {
      const item = stack.pop() as Record<string, unknown> | unknown[]
      const depth = depths.pop() as number
      if (depth > maxDepth) return field
      if (Array.isArray(item)) {
        for (let i = 0; i < item.length; i++) {
          const next = item[i]
          if (next !== null && typeof next === 'object') {
            stack.push(next)
            depths.push(depth + 1)
          }
        }
      } else {
        for (const key in item) {
          const next = item[key]
          if (next !== null && typeof next === 'object') {
            stack.push(next)
            depths.push(depth + 1)
          }
        }
      }
    }
  }
  return undefined
}
