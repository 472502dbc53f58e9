/**
 * The rate-limit algorithms of algorithms.ts over a state kept in the memory store and changed in
 * place: no state arrays copied, no outcome objects, only the rule's decision is allocated. Every
 * expression keeps the reference's order of operations, so the doubles come out the same; the
 * differential test (local-decisions.test.ts) holds the two to identical replies.
 *
 * A decision reads the state as it was (`before`) and, when it commits, writes the new one and
 * reports from it (`after`), as the reference's outcome does; a cost of 0 writes nothing.
 */
import { LocalEntry } from '../stores/memory-store.js'
import type { AlgorithmCode } from './algorithms.js'
import { newRuleDecision } from './decision.js'
import type { NormalizedRule } from './options.js'
import type { RuleDecision } from './types.js'

/** Whether a decision writes its state: never (peek, or another rule refused), always (force, or all allowed), if this rule allows. */
export type Commit = 0 | 1 | 2
export const NEVER: Commit = 0
export const ALWAYS: Commit = 1
export const IF_ALLOWED: Commit = 2

/** A rule as the in-place algorithms read it, with the token bucket's constants computed once. */
export interface LocalRule {
  readonly name: string
  readonly code: AlgorithmCode
  readonly limit: number
  readonly windowMs: number
  /** Buckets (sliding window), burst (token bucket) or 0. */
  readonly param: number
  /** The rule's quota as a decision reports it: the limit, or the burst for a token bucket. */
  readonly quota: number
  /** Token bucket: the emission interval (µs) and the burst tolerance (µs). */
  readonly t: number
  readonly tolerance: number
}

export function localRule(rule: NormalizedRule): LocalRule {
  const { name, code, limit, windowMs, param } = rule
  const t = code === 't' ? Math.ceil((windowMs * 1000) / limit) : 0
  return { name, code, limit, windowMs, param, quota: code === 't' ? param : limit, t, tolerance: param * t }
}

const NO_COUNTS: number[] = []

/**
 * One rule's state for one key. Empty (new, or emptied once expired, as reading an expired key
 * deletes it) it decides like no state: `a` is -Infinity, which no window index or bucket number
 * equals and no arrival time exceeds.
 */
export class RuleState extends LocalEntry {
  /** Fixed window: the window's index. Sliding window: the newest bucket's number. Token bucket: the arrival time (µs). */
  a = Number.NEGATIVE_INFINITY
  /** Fixed window: the units taken in window `a`. */
  count = 0
  /** Sliding window: the units of each bucket, newest (bucket `a`) first. */
  readonly counts: number[]
  readonly bytes: number

  constructor(
    readonly code: AlgorithmCode,
    /** Sliding window: the number of buckets (a state for another number decides like none); else 0. */
    readonly n: number,
  ) {
    super()
    this.counts = code === 's' ? new Array<number>(n + 1).fill(0) : NO_COUNTS
    // The object, its two boxed doubles and, for a sliding window, the array of counts.
    this.bytes = 112 + (code === 's' ? 32 + 8 * (n + 1) : 0)
  }

  /** Empties the state, and makes it gone for the store until a decision writes it, however the clock moves. */
  clear(): void {
    this.expireAtMs = Number.NEGATIVE_INFINITY
    this.a = Number.NEGATIVE_INFINITY
    this.count = 0
    this.counts.fill(0)
  }
}

export function newState(rule: LocalRule): RuleState {
  return new RuleState(rule.code, rule.code === 's' ? rule.param : 0)
}

/** Whether `state` is the kind `rule` keeps; the reference treats a state of another shape as none. */
export function fits(state: RuleState, rule: LocalRule): boolean {
  return state.code === rule.code && state.n === (rule.code === 's' ? rule.param : 0)
}

/** Whether the rule lets `cost` through, with nothing written: a first pass over several rules. */
export function allows(rule: LocalRule, state: RuleState, cost: number, nowUs: number): boolean {
  if (rule.code === 't') return cost <= rule.param && Math.max(nowUs, (state.a > nowUs ? state.a : nowUs) + cost * rule.t) - rule.tolerance <= nowUs
  const nowMs = Math.floor(nowUs / 1000)
  if (rule.code === 'f') {
    const idx = Math.floor(nowMs / rule.windowMs)
    return cost <= rule.limit && Math.max(0, (state.a === idx ? state.count : 0) + cost) <= rule.limit
  }
  return cost <= rule.limit && slidingSum(state, rule.param, slidingShift(state, rule, nowMs)) + cost <= rule.limit
}

/** Decides one rule over `state`, writing it when `commit` says so. */
export function decideRule(rule: LocalRule, state: RuleState, cost: number, nowUs: number, commit: Commit): RuleDecision {
  if (rule.code === 'f') return fixedWindow(rule, state, cost, Math.floor(nowUs / 1000), commit)
  if (rule.code === 's') return slidingWindow(rule, state, cost, Math.floor(nowUs / 1000), commit)
  return tokenBucket(rule, state, cost, nowUs, commit)
}

function ruleDecision(rule: LocalRule, allowed: boolean, remaining: number, resetMs: number, retry: number): RuleDecision {
  return newRuleDecision(rule.name, allowed, rule.quota, remaining, resetMs, retry < 0 ? Number.POSITIVE_INFINITY : retry)
}

function writes(commit: Commit, allowed: boolean, cost: number): boolean {
  return cost !== 0 && (commit === ALWAYS || (commit === IF_ALLOWED && allowed))
}

function fixedWindow(rule: LocalRule, state: RuleState, cost: number, nowMs: number, commit: Commit): RuleDecision {
  const { limit, windowMs: w } = rule
  const idx = Math.floor(nowMs / w)
  const count = state.a === idx ? state.count : 0
  const endMs = (idx + 1) * w - nowMs
  const after = Math.max(0, count + cost)
  const allowed = cost <= limit && after <= limit
  const retryMs = cost > limit ? -1 : allowed ? 0 : endMs
  if (!writes(commit, allowed, cost)) return ruleDecision(rule, allowed, Math.max(0, limit - count), count > 0 ? endMs : 0, retryMs)
  state.a = idx
  state.count = after
  state.expireAtMs = (idx + 1) * w
  return ruleDecision(rule, allowed, Math.max(0, limit - after), after > 0 ? endMs : 0, retryMs)
}

/**
 * How many buckets the state's counts move by to reach now (Infinity for an empty state: none
 * survive); 0 when the clock went backwards, whose decision keeps the state's newer buckets.
 */
function slidingShift(state: RuleState, rule: LocalRule, nowMs: number): number {
  const shift = Math.floor((nowMs * rule.param) / rule.windowMs) - state.a
  return shift < 0 ? 0 : shift
}

/** The units of the buckets still in the window once moved by `shift`: counts[j] lands in bucket j + shift. */
function slidingSum(state: RuleState, n: number, shift: number): number {
  let sum = 0
  for (let j = 0; j + shift <= n; j++) sum += state.counts[j] as number
  return sum
}

function slidingWindow(rule: LocalRule, state: RuleState, cost: number, nowMs: number, commit: Commit): RuleDecision {
  const { limit, windowMs: w, param: n } = rule
  const counts = state.counts
  const shift = slidingShift(state, rule, nowMs)
  const k = shift === 0 ? Math.max(state.a, Math.floor((nowMs * n) / w)) : Math.floor((nowMs * n) / w)
  const sum = slidingSum(state, n, shift)
  const allowed = cost <= limit && sum + cost <= limit
  let retryMs = 0
  if (cost > limit) retryMs = -1
  else if (!allowed) {
    const need = sum + cost - limit
    let freed = 0
    // Buckets below `shift` are new, hence empty: they free nothing.
    for (let i = n; i >= shift; i--) {
      freed += counts[i - shift] as number
      if (freed >= need) {
        retryMs = Math.ceil(((k - i + 1) * w) / n + w - nowMs)
        break
      }
    }
  }
  if (!writes(commit, allowed, cost)) return ruleDecision(rule, allowed, Math.max(0, limit - sum), slidingReset(counts, shift, k, rule, nowMs), retryMs)
  if (shift > 0) for (let i = n; i >= 0; i--) counts[i] = i >= shift ? (counts[i - shift] as number) : 0
  state.a = k
  let sumAfter = sum + cost
  if (cost >= 0) counts[0] = (counts[0] as number) + cost
  else {
    // A refund comes out of the newest buckets first: that is where the estimate was charged.
    let refund = -cost
    for (let i = 0; i <= n && refund > 0; i++) {
      const take = Math.min(counts[i] as number, refund)
      counts[i] = (counts[i] as number) - take
      refund -= take
    }
    sumAfter = sum + cost + refund
  }
  state.expireAtMs = Math.ceil(((k + 1) * w) / n + w)
  return ruleDecision(rule, allowed, Math.max(0, limit - sumAfter), slidingReset(counts, 0, k, rule, nowMs), retryMs)
}

/** Time until the newest non-empty bucket (counts[j] is bucket j + shift) leaves the window. */
function slidingReset(counts: number[], shift: number, k: number, { windowMs: w, param: n }: LocalRule, nowMs: number): number {
  for (let j = 0; j + shift <= n; j++) {
    if ((counts[j] as number) > 0) return Math.ceil(((k - (j + shift) + 1) * w) / n + w - nowMs)
  }
  return 0
}

function tokenBucket(rule: LocalRule, state: RuleState, cost: number, nowUs: number, commit: Commit): RuleDecision {
  const { param: burst, t, tolerance } = rule
  const tat = state.a > nowUs ? state.a : nowUs
  const newTat = Math.max(nowUs, tat + cost * t)
  const allowAt = newTat - tolerance
  const allowed = cost <= burst && allowAt <= nowUs
  const retryMs = cost > burst ? -1 : allowed ? 0 : Math.ceil((allowAt - nowUs) / 1000)
  if (!writes(commit, allowed, cost)) {
    return ruleDecision(rule, allowed, Math.max(0, Math.floor((tolerance - (tat - nowUs)) / t)), Math.ceil((tat - nowUs) / 1000), retryMs)
  }
  state.a = newTat
  state.expireAtMs = Math.max(Math.floor(nowUs / 1000) + 1, Math.ceil(newTat / 1000))
  return ruleDecision(rule, allowed, Math.max(0, Math.floor((tolerance - (newTat - nowUs)) / t)), Math.ceil((newTat - nowUs) / 1000), retryMs)
}
