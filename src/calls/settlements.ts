import type { RateLimiter } from '../ratelimit/rate-limiter.js'
import type { RateLimitDecision } from '../ratelimit/types.js'

/** The largest correction a limiter takes in one adjustment. */
const MAX_ADJUSTMENT = 1e12

/** The scopes of a call's counters, as its limiter takes them: its key, its model, its end user (absent: none). */
export type CallScopes = {
  key: string
  model: string
  user?: string
}

/** One set of counters to correct: a limiter's rules for one tenant, key, model and end user. */
class Correction {
  constructor(
    readonly limiter: RateLimiter,
    readonly tenant: string,
    readonly scopes: CallScopes,
    /** Summed over the settlements of the turn, by what the rules count. */
    public requests: number,
    public tokens: number,
    public microUsd: number,
  ) {}

  /** Whether adding these keeps it within one adjustment: past it, the sum goes in two. */
  fits(requests: number, tokens: number, microUsd: number): boolean {
    return Math.abs(this.requests + requests) <= MAX_ADJUSTMENT && Math.abs(this.tokens + tokens) <= MAX_ADJUSTMENT && Math.abs(this.microUsd + microUsd) <= MAX_ADJUSTMENT
  }
}

/** Corrections by end user, by model, by key, by tenant. */
type ByUser = Map<string | undefined, Correction>
type ByModel = Map<string, ByUser>
type ByKey = Map<string, ByModel>

/**
 * Settlements of one event-loop turn, summed per set of counters and applied as one adjustment each
 * when the turn's I/O is done. Every cache hit settles (its token estimate goes back): applied one by
 * one, the adjustments cost a hit with limits a third of its speed, and under load most of a turn's
 * settlements are of the same counters. Corrections add up in any order, so summing them first
 * changes no count; what it changes is when: a few hundred microseconds later, never after `settled()`.
 * They are found through one map per part of their counters, not by an id made of the parts: an id
 * is a new string per hit, which V8 then flattens and hashes, and the parts are strings it has hashed already.
 */
export class Settlements {
  readonly #batch = new Map<string, ByKey>()
  /** Resolves when the batch being collected has been applied; undefined while none is. */
  #flushed: Promise<void> | undefined
  #applying = 0
  #idle: Array<() => void> = []

  /**
   * @param costs A limiter's costs by rule name, for requests, tokens and micro-USD.
   * @param applied Told where the counters stand after each adjustment.
   */
  constructor(
    private readonly costs: (limiter: RateLimiter, requests: number, tokens: number, microUsd: number) => Record<string, number>,
    private readonly applied: (scopes: CallScopes, decision: RateLimitDecision) => void,
  ) {}

  /** Adds requests, tokens and micro-USD (negative: given back) to the counters of `tenant` and `scopes`. */
  add(limiter: RateLimiter, tenant: string, scopes: CallScopes, requests: number, tokens: number, microUsd: number): void {
    let keys = this.#batch.get(tenant)
    if (keys === undefined) this.#batch.set(tenant, (keys = new Map()))
    let models = keys.get(scopes.key)
    if (models === undefined) keys.set(scopes.key, (models = new Map()))
    let users = models.get(scopes.model)
    if (users === undefined) models.set(scopes.model, (users = new Map()))
    const correction = users.get(scopes.user)
    if (correction?.limiter === limiter && correction.fits(requests, tokens, microUsd)) {
      correction.requests += requests
      correction.tokens += tokens
      correction.microUsd += microUsd
    } else {
      if (correction) this.#apply(correction)
      users.set(scopes.user, new Correction(limiter, tenant, scopes, requests, tokens, microUsd))
    }
    this.#flushed ??= new Promise((resolve) => setImmediate(() => this.#flush(resolve)))
  }

  /** Resolves when every settlement added so far has been applied. */
  async settled(): Promise<void> {
    await this.#flushed
    if (this.#applying > 0) await new Promise<void>((resolve) => this.#idle.push(resolve))
  }

  #flush(resolve: () => void): void {
    this.#flushed = undefined
    for (const keys of this.#batch.values()) for (const models of keys.values()) for (const users of models.values()) for (const correction of users.values()) this.#apply(correction)
    this.#batch.clear()
    resolve()
  }

  #apply(correction: Correction): void {
    const { limiter, tenant, scopes } = correction
    const cost = this.costs(limiter, correction.requests, correction.tokens, correction.microUsd)
    for (const name in cost) if (cost[name] === 0) delete cost[name]
    if (Object.keys(cost).length === 0) return
    this.#applying++
    limiter.adjust(tenant, { cost, scopes }).then(
      (decision) => this.#done(scopes, decision),
      () => this.#done(),
    )
  }

  /** A failed adjustment is the limiter's to report (its store-error event); it only ends here. */
  #done(scopes?: CallScopes, decision?: RateLimitDecision): void {
    if (scopes && decision) this.applied(scopes, decision)
    if (--this.#applying > 0) return
    const idle = this.#idle
    this.#idle = []
    for (const resolve of idle) resolve()
  }
}
