import { policyItems, remainingItems } from '../../calls/limit-replies.js'
import type { RateLimitDecision } from '../../ratelimit/types.js'

/** Which IETF draft of the RateLimit header fields to send (draft-ietf-httpapi-ratelimit-headers). */
export type HeadersDraft = 'draft-6' | 'draft-7' | 'draft-8'

/** How the legacy `X-RateLimit-Reset` counts: seconds from now, or the Unix time (seconds) of the reset. */
export type LegacyReset = 'delta-seconds' | 'unix-seconds'

export interface HeaderOptions {
  /** The IETF fields to send, or false for none. */
  standard: HeadersDraft | false
  /** `X-RateLimit-Limit`, `-Remaining`, `-Reset`; false for none. */
  legacy: LegacyReset | false
}

/** A rule's quota as a policy names it: the quota, and the window it is counted over. */
export interface Policy {
  name: string
  windowMs: number
}

export type HeaderList = Array<[name: string, value: string]>

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000))

/** Longest Retry-After sent: a refusal nothing can lift (a cost over the limit) says "a day", not Infinity. */
const MAX_RETRY_AFTER_S = 86_400

/**
 * The limit headers of one decision. With several rules, draft-6 and draft-7 (one quota per field)
 * describe the tightest rule, as the decision's own fields do, and list every rule in
 * `RateLimit-Policy`; draft-8 gives one item per rule in both fields, the form the gateway sends.
 */
export function rateLimitHeaders(decision: RateLimitDecision, policies: readonly Policy[], options: HeaderOptions, now = Date.now()): HeaderList {
  const headers: HeaderList = []
  const windowOf = (name: string) => seconds(policies.find((p) => p.name === name)?.windowMs ?? 0)
  const reset = seconds(decision.resetMs)
  switch (options.standard) {
    case 'draft-6':
    case 'draft-7': {
      const policy = decision.rules.map((r) => `${r.limit};w=${windowOf(r.name)}`).join(', ')
      if (options.standard === 'draft-6') {
        headers.push(['RateLimit-Limit', String(decision.limit)], ['RateLimit-Remaining', String(decision.remaining)], ['RateLimit-Reset', String(reset)])
      } else {
        headers.push(['RateLimit', `limit=${decision.limit}, remaining=${decision.remaining}, reset=${reset}`])
      }
      headers.push(['RateLimit-Policy', policy])
      break
    }
    case 'draft-8': {
      const policy = policyItems(decision.rules, (name) => policies.find((p) => p.name === name)?.windowMs ?? 0)
      headers.push(['RateLimit-Policy', policy], ['RateLimit', remainingItems(decision.rules)])
      break
    }
  }
  if (options.legacy) {
    const legacyReset = options.legacy === 'delta-seconds' ? reset : Math.ceil((now + decision.resetMs) / 1000)
    headers.push(['X-RateLimit-Limit', String(decision.limit)], ['X-RateLimit-Remaining', String(decision.remaining)], ['X-RateLimit-Reset', String(legacyReset)])
  }
  return headers
}

/** Whole seconds to wait before retrying a refused request: at least 1, at most a day. */
export function retryAfterSeconds(decision: RateLimitDecision): number {
  if (!Number.isFinite(decision.retryAfterMs)) return MAX_RETRY_AFTER_S
  return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(decision.retryAfterMs / 1000)))
}
