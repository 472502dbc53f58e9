import { LRUCache } from 'lru-cache'
import type { Clock } from '../core/clock.js'
import type { RateLimitDecision } from './types.js'

interface Blocked {
  decidedAt: number
  /** Clock time at which the refusal stops holding. */
  until: number
  /** The costs that were refused: a request asking for at least as much is refused too. */
  costs: number[]
  decision: RateLimitDecision
}

/**
 * Remembers keys refused by the store until their retry time, so a flood from one blocked user is
 * answered locally instead of costing a store round trip per request. Bounded by key count (an
 * attacker rotating keys evicts old entries, never grows memory). Only as fresh as this instance's
 * knowledge: a `reset` on another instance is seen here once the entry expires, at most the retry
 * time later.
 */
export class BlockCache {
  readonly #lru: LRUCache<string, Blocked>

  constructor(
    maxKeys: number,
    private readonly clock: Clock,
  ) {
    this.#lru = new LRUCache({ max: maxKeys })
  }

  get(key: string, costs: number[]): RateLimitDecision | undefined {
    const entry = this.#lru.get(key)
    if (!entry) return undefined
    const now = this.clock.now()
    const left = entry.until - now
    if (left <= 0) {
      this.#lru.delete(key)
      return undefined
    }
    // A cheaper request than the refused one might fit; only an equal or costlier one surely won't.
    for (let i = 0; i < costs.length; i++) if ((costs[i] as number) < (entry.costs[i] as number)) return undefined
    const elapsed = now - entry.decidedAt
    const later = (ms: number) => Math.max(0, Math.ceil(ms - elapsed))
    return {
      ...entry.decision,
      retryAfterMs: later(entry.decision.retryAfterMs),
      resetMs: later(entry.decision.resetMs),
      rules: entry.decision.rules.map((rule) => ({ ...rule, retryAfterMs: later(rule.retryAfterMs), resetMs: later(rule.resetMs) })),
    }
  }

  set(key: string, costs: number[], decision: RateLimitDecision): void {
    if (!Number.isFinite(decision.retryAfterMs) || decision.retryAfterMs <= 0) return
    const now = this.clock.now()
    this.#lru.set(key, { decidedAt: now, until: now + decision.retryAfterMs, costs, decision })
  }

  delete(key: string): void {
    this.#lru.delete(key)
  }

  clear(): void {
    this.#lru.clear()
  }
}
