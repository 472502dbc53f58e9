import type { RuleDecision } from '../ratelimit/types.js'
import type { Charge } from './limits.js'

/** OpenAI's reset format: `250ms`, `1s`, `6m0s`, `1h2m3s`. */
function goDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`
  let seconds = Math.ceil(ms / 1000)
  const hours = Math.floor(seconds / 3600)
  seconds -= hours * 3600
  const minutes = Math.floor(seconds / 60)
  seconds -= minutes * 60
  return `${hours ? `${hours}h` : ''}${hours || minutes ? `${minutes}m` : ''}${seconds}s`
}

/** The tightest of the named rules: the one with the least left of its quota. */
function tightest(rules: RuleDecision[], names: readonly string[]): RuleDecision | undefined {
  let best: RuleDecision | undefined
  for (const rule of rules) {
    if (!names.includes(rule.name)) continue
    if (!best || rule.remaining / rule.limit < best.remaining / best.limit) best = rule
  }
  return best
}

const REQUESTS = ['requests', 'user-requests', 'model-requests']
const TOKENS = ['tokens', 'user-tokens', 'model-tokens']

/** OpenAI's header names, spelt once: every reply of a limited call sends them. */
const OPENAI_HEADERS = [
  { names: REQUESTS, limit: 'x-ratelimit-limit-requests', remaining: 'x-ratelimit-remaining-requests', reset: 'x-ratelimit-reset-requests' },
  { names: TOKENS, limit: 'x-ratelimit-limit-tokens', remaining: 'x-ratelimit-remaining-tokens', reset: 'x-ratelimit-reset-tokens' },
] as const

/*
 * The structured `RateLimit-Policy` and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-08,
 * one item per rule (`"tokens";q=1000;w=60` and `"tokens";r=250;t=12`): what the gateway and the
 * Fastify and Express integrations send. Plain concatenation: they go out on every limited reply, a
 * cache hit's included.
 */

/** The `RateLimit-Policy` field: each rule's quota and window (seconds). */
export function policyItems(rules: readonly RuleDecision[], windowMs: (name: string) => number): string {
  let field = ''
  for (const r of rules) field += `${field === '' ? '' : ', '}"${r.name}";q=${r.limit};w=${Math.max(0, Math.ceil(windowMs(r.name) / 1000))}`
  return field
}

/** The `RateLimit` field: what each rule has left, and the seconds until it resets. */
export function remainingItems(rules: readonly RuleDecision[]): string {
  let field = ''
  for (const r of rules) field += `${field === '' ? '' : ', '}"${r.name}";r=${r.remaining};t=${Math.max(0, Math.ceil(r.resetMs / 1000))}`
  return field
}

/** A limiter's last `RateLimit-Policy` field, and the rules' names and limits it was made of. */
interface PolicyField {
  names: string[]
  limits: number[]
  field: string
}

/**
 * The policy field per limiter (by its charges' shared `windows`): the same on every reply while its
 * rules' limits are (a fallback decision has an instance's share of them), so made once, not per reply.
 */
const policyFields = new WeakMap<Record<string, number>, PolicyField>()

function madeOf(known: PolicyField, rules: readonly RuleDecision[]): boolean {
  if (known.names.length !== rules.length) return false
  for (let i = 0; i < rules.length; i++) if ((rules[i] as RuleDecision).name !== known.names[i] || (rules[i] as RuleDecision).limit !== known.limits[i]) return false
  return true
}

function policyField(rules: readonly RuleDecision[], windows: Record<string, number>): string {
  const known = policyFields.get(windows)
  if (known !== undefined && madeOf(known, rules)) return known.field
  const field = policyItems(rules, (name) => windows[name] ?? 0)
  policyFields.set(windows, { names: rules.map((rule) => rule.name), limits: rules.map((rule) => rule.limit), field })
  return field
}

/**
 * What a client learns of its limits on every reply: OpenAI's `x-ratelimit-*-requests` and
 * `-tokens` headers (which its SDKs and dashboards read), and the IETF draft's structured
 * `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers), one item per rule.
 */
export function rateLimitHeaders(charge: Charge): Record<string, string> {
  const headers: Record<string, string> = {}
  const { rules } = charge.decision
  for (const kind of OPENAI_HEADERS) {
    const rule = tightest(rules, kind.names)
    if (!rule) continue
    headers[kind.limit] = String(rule.limit)
    headers[kind.remaining] = String(rule.remaining)
    headers[kind.reset] = goDuration(rule.resetMs)
  }
  headers['ratelimit-policy'] = policyField(rules, charge.windows)
  headers.ratelimit = remainingItems(rules)
  return headers
}

/** A refused call as any transport tells it: an OpenAI-shaped error and the headers of its 429. */
export interface Refusal {
  message: string
  type: 'insufficient_quota' | 'rate_limit_exceeded'
  code: 'budget_exceeded' | 'rate_limit_exceeded'
  headers: Record<string, string>
}

/**
 * What a refused charge tells its caller: Retry-After (whole seconds) and retry-after-ms (which the
 * openai SDK prefers), every limit header, and a message naming the rule. An exhausted budget says
 * `insufficient_quota`, as OpenAI does when credit runs out.
 */
export function refusal(charge: Charge): Refusal {
  const refused = charge.decision.rules.filter((rule) => !rule.allowed).sort((a, b) => b.retryAfterMs - a.retryAfterMs)[0] as RuleDecision
  const wait = Number.isFinite(charge.decision.retryAfterMs) ? charge.decision.retryAfterMs : 86_400_000
  const headers = { ...rateLimitHeaders(charge), 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))), 'retry-after-ms': String(Math.ceil(wait)) }
  if (refused.name === 'budget') {
    const message = Number.isFinite(refused.retryAfterMs)
      ? `Daily budget of this key is spent; it renews in ${goDuration(wait)}.`
      : `This request's estimated cost is more than this key's whole daily budget (${refused.limit / 1_000_000} USD): lower max_tokens or raise the budget.`
    return { message, type: 'insufficient_quota', code: 'budget_exceeded', headers }
  }
  const what = Number.isFinite(refused.retryAfterMs) ? `try again in ${goDuration(wait)}` : 'this request is larger than the limit itself'
  return { message: `Rate limit reached for ${refused.name}: limit ${refused.limit}, remaining ${refused.remaining}; ${what}.`, type: 'rate_limit_exceeded', code: 'rate_limit_exceeded', headers }
}
