/** The decision for one rule of a limiter. */
export interface RuleDecision {
  /** The rule's name (given, or derived from its algorithm, limit and window). */
  name: string
  allowed: boolean
  /** The rule's quota: the limit, or the burst for a token bucket. */
  limit: number
  /** What is left after this request (or, when refused, what was left before it). */
  remaining: number
  /** Milliseconds until the full quota is back. */
  resetMs: number
  /** Milliseconds to wait before retrying; 0 when allowed; Infinity when the cost can never fit. */
  retryAfterMs: number
}

/** The answer of `consume` and `peek`. With several rules, the top-level fields are the tightest rule's. */
export interface RateLimitDecision {
  allowed: boolean
  limit: number
  remaining: number
  resetMs: number
  retryAfterMs: number
  /** 'store' when the shared store decided (or the blocked-key cache did, from its earlier answer). */
  source: 'store' | 'fallback'
  /** Why a request was refused: the limit, a cost no window can hold, or the `deny` store-error policy. */
  reason?: 'limit' | 'cost-exceeds-limit' | 'store-error'
  rules: RuleDecision[]
}

export interface RateLimiterEvents extends Record<string, unknown> {
  allowed: { key: string; decision: RateLimitDecision }
  blocked: { key: string; decision: RateLimitDecision }
  /** The store failed and the `onStoreError` policy took over (emitted once per switch). */
  'fallback-on': { error: Error }
  /** The store answers again and decides again (emitted once per switch). */
  'fallback-off': Record<string, never>
  'store-error': { error: Error }
}

export interface RateLimiterStats {
  allowed: number
  blocked: number
  /** Decisions made by the `onStoreError` policy instead of the store. */
  fallbackDecisions: number
  /** Refusals answered from the blocked-key cache without a store round trip. */
  blockCacheHits: number
  storeErrors: number
  /** How many times the limiter switched from the store to its policy. */
  fallbackSwitches: number
  circuit: 'closed' | 'open' | 'half-open'
}
