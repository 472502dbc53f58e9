import { DEFAULTS } from '../core/defaults.js'
import { costUsd, type ModelPrice, priceOf } from '../llm/pricing.js'
import type { Usage } from '../llm/stream-assembler.js'
import { createRateLimiter, type RateLimiter } from '../ratelimit/rate-limiter.js'
import type { RuleOptions } from '../ratelimit/options.js'
import type { RateLimitDecision } from '../ratelimit/types.js'
import type { Store } from '../stores/types.js'
import { ANONYMOUS, type Caller } from './auth.js'
import type { GatewayConfig, LimitsConfig } from './config.js'

/** Output tokens assumed for the estimate when a request sets no max_tokens. */
const DEFAULT_OUTPUT_ESTIMATE = 256
const DAY_MS = 86_400_000
/** Budgets count micro-dollars: the limiter counts whole units. */
const MICRO = 1_000_000

export interface Charge {
  caller: Caller
  model: string
  user: string | undefined
  /** What was taken up front, to reconcile once the reply's usage is known. */
  tokens: number
  microUsd: number
  decision: RateLimitDecision
  /** Window of each rule, for the RateLimit-Policy header. */
  windows: Record<string, number>
}

/** The rules of one limits block: each a rule of one limiter whose identity is the tenant. */
function rulesOf(limits: LimitsConfig): RuleOptions[] {
  const rules: RuleOptions[] = []
  const add = (name: string, scope: string, rule: { limit: number; window: number } | undefined) => {
    if (rule) rules.push({ name, scope, limit: rule.limit, window: rule.window, algorithm: 'sliding-window' })
  }
  add('requests', 'key', limits.requests)
  add('tokens', 'key', limits.tokens)
  add('user-requests', 'user', limits.user?.requests)
  add('user-tokens', 'user', limits.user?.tokens)
  add('model-requests', 'model', limits.model?.requests)
  add('model-tokens', 'model', limits.model?.tokens)
  if (limits.dailyBudgetUsd) rules.push({ name: 'budget', scope: 'key', algorithm: 'fixed-window', limit: Math.round(limits.dailyBudgetUsd * MICRO), window: DAY_MS })
  return rules
}

/** A rough token count: about four characters a token for the text the request carries. */
function estimatePromptTokens(body: Record<string, unknown>): number {
  const text = JSON.stringify(body.messages ?? body.prompt ?? body.input ?? '')
  return Math.ceil(text.length / 4)
}

/**
 * Rate limits, token limits and budgets of the gateway. Every rule of a request — per key, per user,
 * per model, budget — belongs to one limiter whose identity is the tenant, so they share one Cluster
 * slot and are decided all or nothing in one script call.
 */
export class GatewayLimits {
  readonly #limiters = new Map<string, RateLimiter>()
  readonly #prices: Record<string, ModelPrice>
  /** Reconciliations still running: replies do not wait for them, shutdown does. */
  readonly #pending = new Set<Promise<unknown>>()

  constructor(config: GatewayConfig, store: Store) {
    this.#prices = config.prices
    const make = (limits: LimitsConfig) => {
      const rules = rulesOf(limits)
      return rules.length === 0 ? undefined : createRateLimiter({ store, rules, namespace: 'gw', logger: false, blockCache: false, fallbackMaxBytes: DEFAULTS.rateLimit.fallbackMaxBytes })
    }
    const shared = make(config.limits)
    if (shared) this.#limiters.set(ANONYMOUS, shared)
    for (const key of config.keys) {
      const limiter = key.limits ? make(key.limits) : shared
      if (limiter) this.#limiters.set(key.name, limiter)
    }
  }

  price(model: string): ModelPrice | undefined {
    return priceOf(this.#prices, model)
  }

  /** Takes this request's share up front; `decision.allowed` false means 429. Undefined: no limits. */
  async charge(caller: Caller, model: string, user: string | undefined, body: Record<string, unknown>): Promise<Charge | undefined> {
    const limiter = this.#limiters.get(caller.key) ?? this.#limiters.get(ANONYMOUS)
    if (!limiter) return undefined
    const maxOut = Number(body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_OUTPUT_ESTIMATE) * (typeof body.n === 'number' ? body.n : 1)
    const prompt = estimatePromptTokens(body)
    const tokens = prompt + maxOut
    const microUsd = Math.ceil(costUsd(this.price(model), { prompt_tokens: prompt, completion_tokens: maxOut, total_tokens: tokens }) * MICRO)
    const cost = { requests: 1, tokens, 'user-requests': 1, 'user-tokens': tokens, 'model-requests': 1, 'model-tokens': tokens, budget: microUsd }
    const decision = await limiter.consume(caller.tenant, { cost: only(limiter, cost), scopes: scopes(caller, model, user) })
    const windows = Object.fromEntries(limiter.rules.map((rule) => [rule.name, rule.windowMs]))
    return { caller, model, user, tokens, microUsd, decision, windows }
  }

  /**
   * Replaces the estimate with what the reply really used (nothing, for a cache hit or a failure).
   * Runs in the background: the reply does not wait for it; `settled()` and `close()` do.
   */
  reconcile(charge: Charge, usage: Usage | null | undefined): void {
    const limiter = this.#limiters.get(charge.caller.key) ?? this.#limiters.get(ANONYMOUS)
    if (!limiter) return
    const tokens = (usage?.total_tokens ?? 0) - charge.tokens
    const microUsd = Math.ceil(costUsd(this.price(charge.model), usage) * MICRO) - charge.microUsd
    if (tokens === 0 && microUsd === 0) return
    const cost = { tokens, 'user-tokens': tokens, 'model-tokens': tokens, budget: microUsd }
    const adjusting = limiter.adjust(charge.caller.tenant, { cost: only(limiter, cost), scopes: scopes(charge.caller, charge.model, charge.user) }).catch(() => {})
    this.#pending.add(adjusting)
    void adjusting.finally(() => this.#pending.delete(adjusting))
  }

  /** Resolves when every reconciliation started so far has been applied. */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending])
  }

  async close(): Promise<void> {
    await this.settled()
    await Promise.all([...new Set(this.#limiters.values())].map((limiter) => limiter.close()))
  }
}

function scopes(caller: Caller, model: string, user: string | undefined): Record<string, string> {
  return { key: caller.key, model, ...(user ? { user } : {}) }
}

/** The costs of the rules this limiter has. */
function only(limiter: RateLimiter, cost: Record<string, number>): Record<string, number> {
  return Object.fromEntries(limiter.rules.map((rule) => [rule.name, cost[rule.name] ?? 0]))
}
