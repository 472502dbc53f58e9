/**
 * The rate-limit algorithms as pure functions over a small numeric state: the reference the Lua
 * script (rate-limit.lua) mirrors line for line, and the implementation the memory store runs.
 * A differential test feeds both the same requests and times and requires the same decisions, so
 * every expression here keeps the Lua script's order of operations (IEEE doubles on both sides).
 *
 * Time is in integer milliseconds for the windowed algorithms and integer microseconds for GCRA,
 * whose emission interval (window / limit) is often a fraction of a millisecond.
 */

/** Algorithm codes as they travel to the script: f = fixed window, s = sliding window, t = token bucket. */
export type AlgorithmCode = 'f' | 's' | 't'

export interface RuleArgs {
  algo: AlgorithmCode
  /** Requests (or cost units) per window; for the token bucket, the sustained rate per window. */
  limit: number
  windowMs: number
  /** Sliding window: number of buckets. Token bucket: burst capacity. Fixed window: unused (0). */
  param: number
  /**
   * Units this request takes. Negative only in force mode (a refund, e.g. tokens estimated too high):
   * it gives back at most what was taken, never credit beyond an empty window or a full bucket.
   */
  cost: number
}

/** One rule evaluated against its state, both as if committed (`after*`) and as if not (`before*`). */
export interface RuleOutcome {
  allowed: boolean
  /** 0 when allowed; -1 when the cost can never fit (cost above the limit or burst). */
  retryMs: number
  remainingBefore: number
  resetBefore: number
  remainingAfter: number
  resetAfter: number
  state: number[]
  /**
   * When the committed state may be dropped, as an absolute time in ms: past it the state decides
   * like no state at all. Absolute (Redis PXAT) rather than relative so that it is the algorithm's
   * own time that counts, the server's in production and the simulated one in tests.
   */
  expireAtMs: number
}

export function evaluateRule(state: number[] | undefined, rule: RuleArgs, nowUs: number): RuleOutcome {
  if (rule.algo === 'f') return fixedWindow(state, rule, Math.floor(nowUs / 1000))
  if (rule.algo === 's') return slidingWindow(state, rule, Math.floor(nowUs / 1000))
  return tokenBucket(state, rule, nowUs)
}

function fixedWindow(state: number[] | undefined, { limit, windowMs: w, cost }: RuleArgs, nowMs: number): RuleOutcome {
  const idx = Math.floor(nowMs / w)
  const count = state !== undefined && state.length === 2 && state[0] === idx ? (state[1] as number) : 0
  const endMs = (idx + 1) * w - nowMs
  const after = Math.max(0, count + cost)
  const allowed = cost <= limit && after <= limit
  return {
    allowed,
    retryMs: cost > limit ? -1 : allowed ? 0 : endMs,
    remainingBefore: Math.max(0, limit - count),
    resetBefore: count > 0 ? endMs : 0,
    remainingAfter: Math.max(0, limit - after),
    resetAfter: after > 0 ? endMs : 0,
    state: [idx, after],
    expireAtMs: (idx + 1) * w,
  }
}

/**
 * Sliding window over `n` buckets. Every bucket that overlaps the last window counts in full, so no
 * span of one window length ever holds more than `limit`; the price is that a request keeps counting
 * for up to window + window/n. (A weighted two-window estimate is cheaper by a few numbers of state
 * but lets up to ~2x the limit through a window-length span when traffic arrives in bursts.)
 */
function slidingWindow(state: number[] | undefined, { limit, windowMs: w, param: n, cost }: RuleArgs, nowMs: number): RuleOutcome {
  let k = Math.floor((nowMs * n) / w)
  const counts: number[] = new Array(n + 1).fill(0)
  if (state !== undefined && state.length === n + 2) {
    let shift = k - (state[0] as number)
    if (shift < 0) {
      // The clock went backwards (a failover to a server whose clock lags): keep the newer buckets.
      shift = 0
      k = state[0] as number
    }
    for (let i = 0; i + shift <= n; i++) counts[i + shift] = state[1 + i] as number
  }
  let sum = 0
  for (let i = 0; i <= n; i++) sum += counts[i] as number
  const allowed = cost <= limit && sum + cost <= limit
  let retryMs = 0
  if (cost > limit) retryMs = -1
  else if (!allowed) {
    const need = sum + cost - limit
    let freed = 0
    for (let i = n; i >= 0; i--) {
      freed += counts[i] as number
      if (freed >= need) {
        retryMs = Math.ceil(((k - i + 1) * w) / n + w - nowMs)
        break
      }
    }
  }
  const resetBefore = slidingReset(counts, k, w, n, nowMs)
  const after = counts.slice()
  let sumAfter = sum + cost
  if (cost >= 0) after[0] = (after[0] as number) + cost
  else {
    // A refund comes out of the newest buckets first: that is where the estimate was charged.
    let refund = -cost
    for (let i = 0; i <= n && refund > 0; i++) {
      const take = Math.min(after[i] as number, refund)
      after[i] = (after[i] as number) - take
      refund -= take
    }
    sumAfter = sum + cost + refund
  }
  const resetAfter = slidingReset(after, k, w, n, nowMs)
  return {
    allowed,
    retryMs,
    remainingBefore: Math.max(0, limit - sum),
    resetBefore,
    remainingAfter: Math.max(0, limit - sumAfter),
    resetAfter,
    state: [k, ...after],
    expireAtMs: Math.ceil(((k + 1) * w) / n + w),
  }
}

/** Time until the newest non-empty bucket leaves the window, i.e. until the whole quota is back. */
function slidingReset(counts: number[], k: number, w: number, n: number, nowMs: number): number {
  for (let i = 0; i <= n; i++) {
    if ((counts[i] as number) > 0) return Math.ceil(((k - i + 1) * w) / n + w - nowMs)
  }
  return 0
}

/**
 * Token bucket as GCRA: the state is one number, the theoretical arrival time (TAT). `limit` per
 * window is the sustained rate, `param` the burst; the emission interval is rounded up to a whole
 * microsecond, so rounding can only make the limiter stricter, never looser.
 */
function tokenBucket(state: number[] | undefined, { limit, windowMs: w, param: burst, cost }: RuleArgs, nowUs: number): RuleOutcome {
  const t = Math.ceil((w * 1000) / limit)
  const tolerance = burst * t
  const stored = state !== undefined && state.length === 1 ? (state[0] as number) : nowUs
  const tat = stored > nowUs ? stored : nowUs
  // A refund moves the arrival time back, but never before now: an idle bucket is full, not fuller.
  const newTat = Math.max(nowUs, tat + cost * t)
  const allowAt = newTat - tolerance
  const allowed = cost <= burst && allowAt <= nowUs
  return {
    allowed,
    retryMs: cost > burst ? -1 : allowed ? 0 : Math.ceil((allowAt - nowUs) / 1000),
    remainingBefore: Math.max(0, Math.floor((tolerance - (tat - nowUs)) / t)),
    resetBefore: Math.ceil((tat - nowUs) / 1000),
    remainingAfter: Math.max(0, Math.floor((tolerance - (newTat - nowUs)) / t)),
    resetAfter: Math.ceil((newTat - nowUs) / 1000),
    state: [newTat],
    // At least 1 ms ahead: a refund can bring the arrival time back to now, and a state due now must
    // still be written with an expiry (PXAT now would be a delete on Redis and "no TTL" in memory).
    expireAtMs: Math.max(Math.floor(nowUs / 1000) + 1, Math.ceil(newTat / 1000)),
  }
}
