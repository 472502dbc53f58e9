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

/**
 * What the headers of one limiter's replies are made of, kept by its charges' shared `windows`:
 * which of its rules answer for OpenAI's requests and tokens headers, each rule's `RateLimit` item
 * head, its `RateLimit-Policy` field, and the last limit and reset text of each OpenAI kind, which
 * rarely change from one reply to the next. Every reply of a limited call sends these, a hit's
 * included: worked out per reply, they were a third of what limits add to a hit.
 */
class HeaderPlan {
  readonly names: string[]
  readonly limits: number[]
  readonly policy: string
  /** Per OpenAI kind (requests, tokens): the indices of the rules it speaks for. */
  readonly kinds: number[][]
  readonly heads: string[]
  readonly #limit = [-1, -1]
  readonly #limitText = ['', '']
  readonly #reset = [-1, -1]
  readonly #resetText = ['', '']
  /** Per rule: its last reset in the `RateLimit` field (whole seconds) and that text. */
  readonly #itemReset: number[]
  readonly #itemResetText: string[]
  /** Per rule, during one reply: its remaining as text, which two headers carry. */
  readonly remaining: string[]

  constructor(rules: readonly RuleDecision[], windows: Record<string, number>) {
    this.names = rules.map((rule) => rule.name)
    this.limits = rules.map((rule) => rule.limit)
    this.policy = policyItems(rules, (name) => windows[name] ?? 0)
    this.kinds = OPENAI_HEADERS.map((kind) => this.names.flatMap((name, i) => (kind.names.includes(name) ? [i] : [])))
    this.heads = this.names.map((name) => `"${name}";r=`)
    this.#itemReset = this.names.map(() => -1)
    this.#itemResetText = this.names.map(() => '')
    this.remaining = this.names.map(() => '')
  }

  /** The `;t=` part of rule `i`'s item: seconds until it resets, made once per second that it changes. */
  itemReset(i: number, ms: number): string {
    const seconds = Math.max(0, Math.ceil(ms / 1000))
    if (this.#itemReset[i] !== seconds) {
      this.#itemReset[i] = seconds
      this.#itemResetText[i] = `;t=${seconds}`
    }
    return this.#itemResetText[i] as string
  }

  /** Whether `rules` are the ones this plan was made for, in its order (a decision always has them so). */
  fits(rules: readonly RuleDecision[]): boolean {
    if (rules.length !== this.names.length) return false
    for (let i = 0; i < rules.length; i++) if ((rules[i] as RuleDecision).name !== this.names[i]) return false
    return true
  }

  /** The policy field for these rules' limits: a fallback decision has an instance's share of each. */
  policyOf(rules: readonly RuleDecision[], windows: Record<string, number>): string {
    for (let i = 0; i < rules.length; i++) if ((rules[i] as RuleDecision).limit !== this.limits[i]) return policyItems(rules, (name) => windows[name] ?? 0)
    return this.policy
  }

  limitText(kind: number, limit: number): string {
    if (this.#limit[kind] !== limit) {
      this.#limit[kind] = limit
      this.#limitText[kind] = String(limit)
    }
    return this.#limitText[kind] as string
  }

  /** OpenAI's reset text: a reset of whole seconds (most of them) is made once per second that it changes. */
  resetText(kind: number, ms: number): string {
    if (ms < 1000) return goDuration(ms)
    const seconds = Math.ceil(ms / 1000)
    if (this.#reset[kind] !== seconds) {
      this.#reset[kind] = seconds
      this.#resetText[kind] = goDuration(ms)
    }
    return this.#resetText[kind] as string
  }
}

const plans = new WeakMap<Record<string, number>, HeaderPlan>()

/** The index of the tightest of the rules at `indices` (the one with the least left of its quota); -1 for none. */
function tightestAt(rules: readonly RuleDecision[], indices: readonly number[]): number {
  let best = -1
  for (const i of indices) {
    const rule = rules[i] as RuleDecision
    if (best === -1 || rule.remaining / rule.limit < (rules[best] as RuleDecision).remaining / (rules[best] as RuleDecision).limit) best = i
  }
  return best
}

/**
 * What a client learns of its limits on every reply: OpenAI's `x-ratelimit-*-requests` and
 * `-tokens` headers (which its SDKs and dashboards read), and the IETF draft's structured
 * `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers), one item per rule.
 */
export function rateLimitHeaders(charge: Charge): Record<string, string> {
  const { rules } = charge.decision
  let plan = plans.get(charge.windows)
  if (plan === undefined) plans.set(charge.windows, (plan = new HeaderPlan(rules, charge.windows)))
  // A decision of other rules than the limiter's own (a part of them) gets a plan of its own, not kept.
  if (!plan.fits(rules)) plan = new HeaderPlan(rules, charge.windows)
  const { remaining } = plan
  for (let i = 0; i < rules.length; i++) remaining[i] = String((rules[i] as RuleDecision).remaining)
  const headers: Record<string, string> = {}
  for (let kind = 0; kind < OPENAI_HEADERS.length; kind++) {
    const i = tightestAt(rules, plan.kinds[kind] as number[])
    if (i === -1) continue
    const rule = rules[i] as RuleDecision
    const names = OPENAI_HEADERS[kind] as (typeof OPENAI_HEADERS)[number]
    headers[names.limit] = plan.limitText(kind, rule.limit)
    headers[names.remaining] = remaining[i] as string
    headers[names.reset] = plan.resetText(kind, rule.resetMs)
  }
  headers['ratelimit-policy'] = plan.policyOf(rules, charge.windows)
  let field = ''
  for (let i = 0; i < rules.length; i++) field += `${i === 0 ? '' : ', '}${plan.heads[i]}${remaining[i]}${plan.itemReset(i, (rules[i] as RuleDecision).resetMs)}`
  headers.ratelimit = field
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
