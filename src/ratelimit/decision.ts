import type { NormalizedRule } from './options.js'
import type { RateLimitDecision, RuleDecision } from './types.js'

/**
 * Turns the script's flat integer reply (one decision's, from `offset`) into a decision; the tightest
 * rule speaks for the whole.
 */
export function toDecision(reply: readonly number[], rules: readonly NormalizedRule[], source: RateLimitDecision['source'], offset = 0): RateLimitDecision {
  const decisions: RuleDecision[] = rules.map((rule, i) => {
    const b = offset + 1 + i * 4
    const retry = reply[b + 3] as number
    return {
      name: rule.name,
      allowed: reply[b] === 1,
      limit: rule.code === 't' ? rule.param : rule.limit,
      remaining: reply[b + 1] as number,
      resetMs: reply[b + 2] as number,
      retryAfterMs: retry < 0 ? Number.POSITIVE_INFINITY : retry,
    }
  })
  return combine(decisions, reply[offset] === 1, source)
}

export function combine(rules: RuleDecision[], allowed: boolean, source: RateLimitDecision['source']): RateLimitDecision {
  let top = rules[0] as RuleDecision
  if (allowed) {
    for (const rule of rules) if (rule.remaining / rule.limit < top.remaining / top.limit) top = rule
  } else {
    top = rules.find((rule) => !rule.allowed) as RuleDecision
    for (const rule of rules) if (!rule.allowed && rule.retryAfterMs > top.retryAfterMs) top = rule
  }
  const decision: RateLimitDecision = {
    allowed,
    limit: top.limit,
    remaining: top.remaining,
    resetMs: top.resetMs,
    retryAfterMs: allowed ? 0 : top.retryAfterMs,
    source,
    rules,
  }
  if (!allowed) decision.reason = top.retryAfterMs === Number.POSITIVE_INFINITY ? 'cost-exceeds-limit' : 'limit'
  return decision
}

/** The decision of the `allow` / `deny` store-error policies: no store, no memory, just the policy. */
export function policyDecision(rules: readonly NormalizedRule[], allowed: boolean, retryAfterMs: number): RateLimitDecision {
  const decisions = rules.map((rule) => {
    const limit = rule.code === 't' ? rule.param : rule.limit
    return { name: rule.name, allowed, limit, remaining: allowed ? limit : 0, resetMs: 0, retryAfterMs: allowed ? 0 : retryAfterMs }
  })
  const decision = combine(decisions, allowed, 'fallback')
  if (!allowed) decision.reason = 'store-error'
  return decision
}
