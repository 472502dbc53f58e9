/**
 * How many objects and arrays a JSON text holds, counted without parsing it and without going past
 * `max` (the count returned is then `max + 1`). Parsing is what costs: a 4 MiB body of `[{},{},…]` is
 * a million objects, seconds of event loop and gigabytes once parsed, validated, hashed and forwarded,
 * where a 4 MiB prompt is one string. Strings are skipped with `indexOf`, so a string-heavy body costs
 * next to nothing. Invalid JSON is not judged here: the parser does that.
 */
export function countJsonContainers(text: string, max: number): number {
  let count = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) i = closingQuote(text, i)
    else if (c === 0x7b || c === 0x5b) {
      count++
      if (count > max) return count
    }
  }
  return count
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
