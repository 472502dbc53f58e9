import { InvalidOptionError } from './errors.js'

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'10s'`, `'1m'`, `'24h'`, `'7d'`. */
export type Duration = number | `${number}${DurationUnit}`
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/
const EXPECTED = "a non-negative number of milliseconds or a string like '500ms', '10s', '1m', '24h', '7d'"

/**
 * Parses a duration to milliseconds. Throws {@link InvalidOptionError} naming `option` for anything else
 * (negative, NaN, Infinity, unknown units, bare numeric strings — `'500'` is refused rather than guessed).
 */
export function parseDuration(value: unknown, option = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
    throw new InvalidOptionError(option, value, EXPECTED)
  }
  if (typeof value === 'string') {
    const match = PATTERN.exec(value.trim())
    if (match) {
      const ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit]
      if (Number.isFinite(ms)) return ms
    }
  }
  throw new InvalidOptionError(option, value, EXPECTED)
}

/** Like {@link parseDuration} but also refuses zero, for windows and TTLs where zero means nothing. */
export function parsePositiveDuration(value: unknown, option = 'duration'): number {
  const ms = parseDuration(value, option)
  if (ms > 0) return ms
  throw new InvalidOptionError(option, value, 'a duration greater than zero')
}
