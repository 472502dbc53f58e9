import type { RateLimiter } from '../ratelimit/rate-limiter.js'
import type { RateLimitDecision } from '../ratelimit/types.js'

/** The largest correction a limiter takes in one adjustment. */
const MAX_ADJUSTMENT = 1e12

/** Whether adding `cost` keeps every rule of `sum` within one adjustment: past it, the sum goes in two. */
function fits(sum: Record<string, number>, cost: Record<string, number>): boolean {
  for (const name in cost) if (Math.abs((sum[name] ?? 0) + (cost[name] as number)) > MAX_ADJUSTMENT) return false
  return true
}

/** One set of counters to correct: a limiter's rules for one tenant, key, model and end user. */
interface Correction {
  limiter: RateLimiter
  tenant: string
  scopes: Record<string, string>
  /** Summed over the settlements of the tick, by rule name. */
  cost: Record<string, number>
}

/**
 * Settlements of one event-loop turn, summed per set of counters and applied as one adjustment each
 * when the turn's I/O is done. Every cache hit settles (its token estimate goes back): applied one by
 * one, the adjustments cost a hit with limits a third of its speed, and under load most of a turn's
 * settlements are of the same counters. Corrections add up in any order, so summing them first
 * changes no count; what it changes is when: a few hundred microseconds later, never after `settled()`.
 */
export class Settlements {
  readonly #batch = new Map<string, Correction>()
  /** Resolves when the batch being collected has been applied; undefined while none is. */
  #flushed: Promise<void> | undefined
  #applying = 0
  #idle: Array<() => void> = []

  /** @param applied Told where the counters stand after each adjustment. */
  constructor(private readonly applied: (scopes: Record<string, string>, decision: RateLimitDecision) => void) {}

  /** Adds `cost` (by rule name; negative gives back) to the counters of `tenant` and `scopes`. */
  add(limiter: RateLimiter, tenant: string, scopes: Record<string, string>, cost: Record<string, number>): void {
    // Length-prefixed: any part may hold any character, and two sets of counters must never share an id.
    let id = `${tenant.length}:${tenant}`
    for (const name in scopes) id += `|${name}=${(scopes[name] as string).length}:${scopes[name]}`
    const correction = this.#batch.get(id)
    if (correction?.limiter === limiter && fits(correction.cost, cost)) {
      for (const name in cost) correction.cost[name] = (correction.cost[name] ?? 0) + (cost[name] as number)
    } else {
      if (correction) this.#apply(correction)
      this.#batch.set(id, { limiter, tenant, scopes, cost: { ...cost } })
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
    for (const correction of this.#batch.values()) this.#apply(correction)
    this.#batch.clear()
    resolve()
  }

  #apply({ limiter, tenant, scopes, cost }: Correction): void {
    for (const name in cost) if (cost[name] === 0) delete cost[name]
    if (Object.keys(cost).length === 0) return
    this.#applying++
    limiter.adjust(tenant, { cost, scopes }).then(
      (decision) => this.#done(scopes, decision),
      () => this.#done(),
    )
  }

  /** A failed adjustment is the limiter's to report (its store-error event); it only ends here. */
  #done(scopes?: Record<string, string>, decision?: RateLimitDecision): void {
    if (scopes && decision) this.applied(scopes, decision)
    if (--this.#applying > 0) return
    const idle = this.#idle
    this.#idle = []
    for (const resolve of idle) resolve()
  }
}
