import { z } from 'zod'
import { parseDuration } from './duration.js'
import { InvalidOptionError } from './errors.js'

/**
 * Validates the options of a public constructor. The first problem becomes an {@link InvalidOptionError}
 * naming the option path (`l1.maxBytes`), the value given and what was expected, so a typo in a config
 * fails at construction instead of surfacing later as odd behaviour.
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(input ?? {})
  if (result.success) return result.data
  const issue = result.error.issues[0]
  if (!issue) throw new InvalidOptionError(prefix || 'options', input, 'valid options')
  // An unknown key is reported on its parent object; name the key itself, it is what was mistyped.
  const path = [...issue.path.map(String), ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])]
  const option = [prefix, ...path].filter(Boolean).join('.') || 'options'
  throw new InvalidOptionError(option, valueAt(input, path), expectation(issue), { cause: result.error })
}

function valueAt(input: unknown, path: string[]): unknown {
  let node: unknown = input
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

function expectation(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return 'no such option (check the spelling)'
  return issue.message.replace(/^Invalid input: /, '')
}

/** A duration option (`'10s'`, `500`), parsed to milliseconds. */
export const durationMs = z.unknown().transform((value, ctx) => {
  try {
    return parseDuration(value)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as InvalidOptionError).expected })
    return z.NEVER
  }
})

/** A duration option that must be greater than zero. */
export const positiveDurationMs = durationMs.refine((ms) => ms > 0, { message: 'a duration greater than zero' })

/**
 * Longest delay a Node timer keeps (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms,
 * with a warning, every time. Options that arm a timer are bounded by it.
 */
export const MAX_TIMER_MS = 2_147_483_647
const timerBound = { message: `at most 24.8 days (${MAX_TIMER_MS} ms, the longest timer Node keeps)` }

/** A duration that arms a timer: 0 or more, at most {@link MAX_TIMER_MS}. */
export const timerMs = durationMs.refine((ms) => ms <= MAX_TIMER_MS, timerBound)

/** A duration that arms a timer and must be greater than zero. */
export const positiveTimerMs = positiveDurationMs.refine((ms) => ms <= MAX_TIMER_MS, timerBound)

/** A whole number of bytes, at least `min`. */
export const byteSize = (min = 1) =>
  z
    .number()
    .int()
    .min(min, { message: `a whole number of bytes >= ${min}` })
