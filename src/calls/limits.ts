import { DEFAULTS } from '../core/defaults.js'
import { costUsd, type ModelPrice, tokensUsd } from '../llm/pricing.js'
import type { Usage } from '../llm/stream-assembler.js'
import { createRateLimiter, type RateLimiter } from '../ratelimit/rate-limiter.js'
import type { RateLimiterLogger, RuleOptions } from '../ratelimit/options.js'
import { TypedEmitter } from '../core/events.js'
import type { RateLimitDecision, RuleDecision } from '../ratelimit/types.js'
import type { Store } from '../stores/types.js'
import { type CallScopes, Settlements } from './settlements.js'
import type { Caller, Charge } from './types.js'

export type { Charge }

const DAY_MS = 86_400_000
/** Budgets count micro-dollars: the limiter counts whole units. */
const MICRO = 1_000_000
/** The limiter of callers without a key of their own (`auth: none`). */
const DEFAULT_LIMITER = '\0default'

export interface WindowSpec {
  limit: number
  /** Milliseconds. */
  window: number
}

/**
 * Limits of a gateway key. `requests`/`tokens` count per key; `user` per end user across the tenant's
 * keys; `model` per model across the tenant; `dailyBudgetUsd` per key per UTC day.
 */
export interface LimitsSpec {
  requests?: WindowSpec | undefined
  tokens?: WindowSpec | undefined
  user?: { requests?: WindowSpec | undefined; tokens?: WindowSpec | undefined } | undefined
  model?: { requests?: WindowSpec | undefined; tokens?: WindowSpec | undefined } | undefined
  dailyBudgetUsd?: number | undefined
}

/** The rules of one limits block: each a rule of one limiter whose identity is the tenant. */
function rulesOf(limits: LimitsSpec): RuleOptions[] {
  const rules: RuleOptions[] = []
  const add = (name: string, scope: string, rule: WindowSpec | undefined) => {
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

/**
 * Rate limits, token limits and budgets of calls. Every rule of a call — per key, per user, per model,
 * budget — belongs to one limiter whose identity is the tenant, so they share one Cluster slot and are
 * decided all or nothing in one script call. Each charge is settled exactly once against its estimate
 * (with the usage of the upstream call it caused, or refunded when it caused none); usage that arrives
 * after a refund (a background refresh the call started) is added on top.
 */
export class CallLimits {
  /** Every decision of every key's limiter, and the switches of their store: what metrics count. */
  readonly events = new TypedEmitter<CallLimitsEvents>()
  readonly #limiters = new Map<string, RateLimiter>()
  readonly #windows = new WeakMap<RateLimiter, Record<string, number>>()
  /** Settlements not yet applied: replies do not wait for them, shutdown does. */
  readonly #settlements = new Settlements(costsOf, (scopes, decision) => this.#budget(scopes.key, decision))
  #onFallback = false

  /**
   * @param instances Instances sharing `store`: while it is down, each one allows `limit / instances`.
   * @param logger Told when decisions move to the fallback and back: once per switch of the store,
   *   not once per limiter (keys with limits of their own each have one).
   */
  constructor(defaults: LimitsSpec, keys: ReadonlyArray<{ name: string; limits?: LimitsSpec | undefined }>, store: Store, instances = 1, logger: RateLimiterLogger | false = false) {
    const switches: RateLimiterLogger = {
      warn: (message) => {
        if (!this.#onFallback && logger) logger.warn(message)
        this.#onFallback = true
      },
      info: (message) => {
        if (this.#onFallback && logger) logger.info(message)
        this.#onFallback = false
      },
    }
    const make = (limits: LimitsSpec) => {
      const rules = rulesOf(limits)
      return rules.length === 0 ? undefined : createRateLimiter({ store, rules, namespace: 'gw', logger: switches, blockCache: false, fallbackMaxBytes: DEFAULTS.rateLimit.fallbackMaxBytes, instances })
    }
    const shared = make(defaults)
    if (shared) this.#limiters.set(DEFAULT_LIMITER, shared)
    for (const key of keys) {
      const limiter = key.limits ? make(key.limits) : shared
      if (limiter) this.#limiters.set(key.name, limiter)
    }
    for (const limiter of new Set(this.#limiters.values())) this.#forward(limiter)
  }

  /** The limiters' store events, once each (keys without limits of their own share one). */
  #forward(limiter: RateLimiter): void {
    limiter.events.on('store-error', ({ error }) => this.events.emit('store-error', { error }))
    limiter.events.on('fallback-on', ({ error }) => this.events.emit('fallback-on', { error }))
    limiter.events.on('fallback-off', () => this.events.emit('fallback-off', {}))
  }

  /** The worst circuit of the limiters: `open` if any is, else `half-open` if any is, else `closed`. */
  circuit(): 'closed' | 'open' | 'half-open' {
    const states = [...new Set(this.#limiters.values())].map((limiter) => limiter.stats().circuit)
    return states.includes('open') ? 'open' : states.includes('half-open') ? 'half-open' : 'closed'
  }

  /**
   * Forgets the counters of a gateway key (its limiter's rules for its tenant), per user and per model
   * when given; false when the key has no limits.
   */
  async reset(caller: Caller, model?: string, user?: string): Promise<boolean> {
    const limiter = this.#limiter(caller)
    if (!limiter) return false
    await limiter.reset(caller.tenant, { scopes: { key: caller.key, ...(model ? { model } : {}), ...(user ? { user } : {}) } })
    const budget = limiter.rules.find((rule) => rule.name === 'budget')
    if (budget) this.events.emit('budget', { key: caller.key, remaining: budget.limit, limit: budget.limit, resetAt: Date.now() + budget.windowMs })
    return true
  }

  /** Reports what a key has left of its budget, when the decision has a budget rule. */
  #budget(key: string, decision: RateLimitDecision): void {
    let rule: RuleDecision | undefined
    for (const each of decision.rules) if (each.name === 'budget') rule = each
    if (rule) this.events.emit('budget', { key, remaining: rule.remaining, limit: rule.limit, resetAt: Date.now() + rule.resetMs })
  }

  /** Whether `caller` has limits at all (without any, there is nothing to charge or estimate). */
  covers(caller: Caller): boolean {
    return this.#limiter(caller) !== undefined
  }

  /**
   * Takes a call's share up front: one request, `promptTokens` plus `outputTokens` tokens and their
   * price. `decision.allowed` false means refused. Undefined: the caller has no limits.
   */
  async charge(caller: Caller, model: string, user: string | undefined, price: ModelPrice | undefined, promptTokens: number, outputTokens: number): Promise<Charge | undefined> {
    const limiter = this.#limiter(caller)
    if (!limiter) return undefined
    const tokens = promptTokens + outputTokens
    const microUsd = Math.ceil(tokensUsd(price, promptTokens, outputTokens) * MICRO)
    const scopes: CallScopes = user ? { key: caller.key, model, user } : { key: caller.key, model }
    const decision = await limiter.consume(caller.tenant, { cost: costsOf(limiter, 1, tokens, microUsd), scopes })
    this.events.emit('decision', { tenant: caller.tenant, key: caller.key, decision })
    this.#budget(caller.key, decision)
    return { caller, model, user, scopes, price, promptTokens, tokens, microUsd, decision, windows: this.#windowsOf(limiter), settled: false }
  }

  /**
   * Replaces the estimate with `usage` (null: the call cost nothing upstream, the estimate goes back).
   * Once settled, a later usage is added on top. Runs in the background: `settled()` and `close()` wait.
   */
  settle(charge: Charge, usage: Usage | null): void {
    const first = !charge.settled
    charge.settled = true
    if (!first && !usage) return
    // The estimate is taken back only where it was counted: one the fallback decided lives in this
    // instance's memory, not in the store the settlement goes to once it answers again (taking it
    // back there would hand the key tokens it never paid for).
    const estimated = first && charge.decision.source === 'store'
    const limiter = this.#limiter(charge.caller)
    if (!limiter) return
    // Only what the limiter's rules count: a quantity none counts would still count towards the bound
    // at which a turn's settlements are applied in two, and split a sum that cancels out.
    const windows = this.#windowsOf(limiter)
    const tokens = countsTokens(windows) ? (usage?.total_tokens ?? 0) - (estimated ? charge.tokens : 0) : 0
    const microUsd = windows.budget !== undefined ? Math.ceil(costUsd(charge.price, usage) * MICRO) - (estimated ? charge.microUsd : 0) : 0
    if (tokens === 0 && microUsd === 0) return
    this.#settlements.add(limiter, charge.caller.tenant, charge.scopes, 0, tokens, microUsd)
  }

  /** Whether the latest switch of the limits was to the fallback: the store failed and has not answered a decision since. */
  get onFallback(): boolean {
    return this.#onFallback
  }

  /** Resolves when every settlement started so far has been applied. */
  settled(): Promise<void> {
    return this.#settlements.settled()
  }

  async close(): Promise<void> {
    await this.settled()
    await Promise.all([...new Set(this.#limiters.values())].map((limiter) => limiter.close()))
  }

  /** Each rule's window by name; one object per limiter, shared by its charges (which never write to it). */
  #windowsOf(limiter: RateLimiter): Record<string, number> {
    let windows = this.#windows.get(limiter)
    if (!windows) {
      windows = {}
      for (const rule of limiter.rules) windows[rule.name] = rule.windowMs
      this.#windows.set(limiter, windows)
    }
    return windows
  }

  #limiter(caller: Caller): RateLimiter | undefined {
    return this.#limiters.get(caller.key) ?? this.#limiters.get(DEFAULT_LIMITER)
  }
}

export interface CallLimitsEvents extends Record<string, unknown> {
  /** A call's limits were decided (allowed or refused), by the store or the fallback; `key` is the gateway key's name. */
  decision: { tenant: string; key: string; decision: RateLimitDecision }
  /**
   * What a key has left of its daily budget (micro-USD) after a charge, its settlement with the real
   * usage, or a reset; `resetAt` (ms since the epoch) is when its window starts over.
   */
  budget: { key: string; remaining: number; limit: number; resetAt: number }
  'store-error': { error: Error }
  /** Decisions moved to the fallback policy (once per switch of each limiter). */
  'fallback-on': { error: Error }
  'fallback-off': Record<string, never>
}

/** Whether a limiter with these windows (by rule name) has a token rule. */
function countsTokens(windows: Record<string, number>): boolean {
  return windows.tokens !== undefined || windows['user-tokens'] !== undefined || windows['model-tokens'] !== undefined
}

/** The cost of each rule this limiter has (see {@link rulesOf} for their names): requests, tokens or micro-USD. */
function costsOf(limiter: RateLimiter, requests: number, tokens: number, microUsd: number): Record<string, number> {
  const costs: Record<string, number> = {}
  for (const { name } of limiter.rules) costs[name] = name === 'budget' ? microUsd : name.endsWith('requests') ? requests : tokens
  return costs
}
