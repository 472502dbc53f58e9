import type { NormalizedRule } from './options.js'
import type { RateLimitDecision, RuleDecision } from './types.js'

/**
 * Turns the script's flat integer reply (one decision's, from `offset`) into a decision; the tightest
 * rule speaks for the whole.
 */
export function toDecision(reply: readonly number[], rules: readonly NormalizedRule[], source: RateLimitDecision['source'], offset = 0): RateLimitDecision {
  const all = reply[offset] === 1
  const decisions: RuleDecision[] = rules.map((rule, i) => {
    const limit = rule.code === 't' ? rule.param : rule.limit
    // An allowed decision's rules come as remaining and reset alone (see replyWidth).
    if (all) return newRuleDecision(rule.name, true, limit, reply[offset + 1 + i * 2] as number, reply[offset + 2 + i * 2] as number, 0)
    const b = offset + 1 + i * 4
    const retry = reply[b + 3] as number
    return newRuleDecision(rule.name, reply[b] === 1, limit, reply[b + 1] as number, reply[b + 2] as number, retry < 0 ? Number.POSITIVE_INFINITY : retry)
  })
  return combine(decisions, all, source)
}

export function combine(rules: RuleDecision[], allowed: boolean, source: RateLimitDecision['source']): RateLimitDecision {
  let top = rules[0] as RuleDecision
  if (allowed) {
    for (const rule of rules) if (rule.remaining / rule.limit < top.remaining / top.limit) top = rule
  } else {
    top = rules.find((rule) => !rule.allowed) as RuleDecision
    for (const rule of rules) if (!rule.allowed && rule.retryAfterMs > top.retryAfterMs) top = rule
  }
  const decision = new (PlainDecision as unknown as Constructor<typeof PlainDecision, RateLimitDecision>)(allowed, top.limit, top.remaining, top.resetMs, allowed ? 0 : top.retryAfterMs, source, rules)
  if (!allowed) decision.reason = top.retryAfterMs === Number.POSITIVE_INFINITY ? 'cost-exceeds-limit' : 'limit'
  return decision
}

/** The decision of the `allow` / `deny` store-error policies: no store, no memory, just the policy. */
export function policyDecision(rules: readonly NormalizedRule[], allowed: boolean, retryAfterMs: number): RateLimitDecision {
  const decisions = rules.map((rule) => {
    const limit = rule.code === 't' ? rule.param : rule.limit
    return newRuleDecision(rule.name, allowed, limit, allowed ? limit : 0, 0, allowed ? 0 : retryAfterMs)
  })
  const decision = combine(decisions, allowed, 'fallback')
  if (!allowed) decision.reason = 'store-error'
  return decision
}

/*
 * Decisions are plain objects (their prototype is Object.prototype, as a literal's) made by
 * constructors rather than object literals. V8 makes a literal's objects from a boilerplate; when a
 * field changes representation (resetMs a small integer from one algorithm, a double from another),
 * the boilerplate's map goes stale and every object made from it afterwards is migrated one by one:
 * in one process, limiters of two algorithms taking turns left decisions 2-3× slower for good
 * (`node --trace-migration`: one `resetMs:s->d` per decision). A constructor's map is kept up to date.
 */

function PlainRuleDecision(this: RuleDecision, name: string, allowed: boolean, limit: number, remaining: number, resetMs: number, retryAfterMs: number): void {
  this.name = name
  this.allowed = allowed
  this.limit = limit
  this.remaining = remaining
  this.resetMs = resetMs
  this.retryAfterMs = retryAfterMs
}
PlainRuleDecision.prototype = Object.prototype

/** A rule's decision, as a plain object (see above). */
export function newRuleDecision(name: string, allowed: boolean, limit: number, remaining: number, resetMs: number, retryAfterMs: number): RuleDecision {
  return new (PlainRuleDecision as unknown as Constructor<typeof PlainRuleDecision, RuleDecision>)(name, allowed, limit, remaining, resetMs, retryAfterMs)
}

/** A constructor function typed as the class it acts as: the parameters of `F`, objects of type `T`. */
type Constructor<F extends (this: T, ...args: never[]) => void, T> = new (...args: Parameters<F>) => T

function PlainDecision(
  this: RateLimitDecision,
  allowed: boolean,
  limit: number,
  remaining: number,
  resetMs: number,
  retryAfterMs: number,
  source: RateLimitDecision['source'],
  rules: RuleDecision[],
): void {
  this.allowed = allowed
  this.limit = limit
  this.remaining = remaining
  this.resetMs = resetMs
  this.retryAfterMs = retryAfterMs
  this.source = source
  this.rules = rules
}
PlainDecision.prototype = Object.prototype
