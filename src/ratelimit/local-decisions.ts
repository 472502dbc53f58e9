import { safeIdentifier } from '../stores/keys.js'
import { scopeValue } from './state-groups.js'
import type { MemoryStore } from '../stores/memory-store.js'
import type { DecideMode } from './decide.js'
import { combine } from './decision.js'
import { ALWAYS, allows, type Commit, decideRule, fits, IF_ALLOWED, type LocalRule, localRule, NEVER, newState, RuleState } from './local-algorithms.js'
import type { NormalizedRule } from './options.js'
import type { RateLimitDecision, RuleDecision } from './types.js'

/**
 * A rule's key: the identity as Cluster hash tag so one script can touch every rule's key; a scoped
 * rule's key ends with its scope's value (or `-` when the call has none: that rule costs 0).
 */
export function ruleKey(keyHead: string, rule: NormalizedRule, id: string, scopes: Record<string, string> | undefined): string {
  const key = `${keyHead}{${id}}:${rule.keyPart}`
  return rule.scope === undefined ? key : `${key}:${safeIdentifier(scopeValue(scopes, rule.scope))}`
}

/** Keys kept per generation by {@link LocalDecisions}' key cache: at most a few MB (keys are at most ~300 characters). */
const KEY_CACHE = 2048

/**
 * A limiter's decisions over a memory store, synchronously and in place: each rule's state is a
 * {@link RuleState} the store holds and the decision changes, so a decision allocates its reply and,
 * for a key seen for the first time, the state it stores. The same replies as the store's script
 * twin (decide.ts), without its strings, arrays and TTL writes.
 */
export class LocalDecisions {
  readonly #store: MemoryStore
  readonly #rules: readonly NormalizedRule[]
  readonly #local: readonly LocalRule[]
  readonly #keyHead: string
  /** Per rule, an empty state that stands for a missing one; stored (and replaced) once a decision writes to it. */
  readonly #spares: RuleState[]
  /** Per rule, during one decision of several rules: its key and state between the two passes. */
  readonly #keys: string[]
  readonly #states: Array<RuleState | undefined>
  /** Recent identities' store keys (one string per rule), see {@link #keysOf}. */
  #young = new Map<string, string | string[]>()
  #old = new Map<string, string | string[]>()
  readonly #youngMax: number

  constructor(store: MemoryStore, rules: readonly NormalizedRule[], keyHead: string) {
    this.#store = store
    this.#rules = rules
    this.#local = rules.map(localRule)
    this.#keyHead = keyHead
    this.#spares = this.#local.map(newState)
    this.#keys = rules.map(() => '')
    this.#states = rules.map(() => undefined)
    this.#youngMax = Math.max(64, Math.floor(KEY_CACHE / rules.length))
  }

  /** Decides every rule for `id`, all or nothing; throws the store's `E_STORE_CLOSED` or `E_STORE_FULL`. */
  decide(id: string, costs: readonly number[], mode: DecideMode, scopes: Record<string, string> | undefined, source: RateLimitDecision['source']): RateLimitDecision {
    const store = this.#store
    store.openLocal()
    const now = store.now()
    const nowUs = now * 1000
    const keys = scopes === undefined ? this.#keysOf(id) : undefined
    if (this.#local.length === 1) {
      const key = keys === undefined ? store.localKey(ruleKey(this.#keyHead, this.#rules[0] as NormalizedRule, id, scopes)) : (keys as string)
      const decision = this.#decide(0, key, this.#state(0, key, now), costs[0] as number, nowUs, mode === 'c' ? IF_ALLOWED : mode === 'f' ? ALWAYS : NEVER)
      return combine([decision], decision.allowed, source)
    }
    // Two passes, as the reference: whether every rule allows, then each rule's reply and write.
    let all = true
    for (let i = 0; i < this.#local.length; i++) {
      const key = keys === undefined ? store.localKey(ruleKey(this.#keyHead, this.#rules[i] as NormalizedRule, id, scopes)) : (keys[i] as string)
      const state = this.#state(i, key, now)
      this.#keys[i] = key
      this.#states[i] = state
      if (!allows(this.#local[i] as LocalRule, state, costs[i] as number, nowUs)) all = false
    }
    const commit = mode === 'f' || (all && mode === 'c') ? ALWAYS : NEVER
    const decisions: RuleDecision[] = []
    for (let i = 0; i < this.#local.length; i++) {
      decisions.push(this.#decide(i, this.#keys[i] as string, this.#states[i] as RuleState, costs[i] as number, nowUs, commit))
      this.#states[i] = undefined
    }
    return combine(decisions, all, source)
  }

  #decide(i: number, key: string, state: RuleState, cost: number, nowUs: number, commit: Commit): RuleDecision {
    const decision = decideRule(this.#local[i] as LocalRule, state, cost, nowUs, commit)
    const spare = this.#spares[i] as RuleState
    if (state === spare && cost !== 0 && (commit === ALWAYS || (commit === IF_ALLOWED && decision.allowed))) {
      this.#store.setLocal(key, spare)
      this.#spares[i] = newState(this.#local[i] as LocalRule)
    }
    return decision
  }

  /**
   * The store keys of an unscoped call for `id`: a string per rule, or the string itself for one rule.
   * Kept for recent identities because a key built afresh costs more to look up than the whole
   * decision (V8 flattens and hashes a new string on every Map lookup; a kept string has its hash),
   * in two generations of at most {@link KEY_CACHE} keys each: the older is dropped when the newer fills.
   */
  #keysOf(id: string): string | string[] {
    let keys = this.#young.get(id)
    if (keys !== undefined) return keys
    keys = this.#old.get(id)
    if (keys === undefined) {
      const built = this.#rules.map((rule) => this.#store.localKey(ruleKey(this.#keyHead, rule, id, undefined)))
      keys = built.length === 1 ? (built[0] as string) : built
    }
    if (this.#young.size >= this.#youngMax) {
      this.#old = this.#young
      this.#young = new Map()
    }
    this.#young.set(id, keys)
    return keys
  }

  /** The rule's state under `key`: the stored one (emptied if expired: it decides like none), else an empty spare. */
  #state(i: number, key: string, now: number): RuleState {
    const found = this.#store.getLocal(key)
    const rule = this.#local[i] as LocalRule
    if (found instanceof RuleState && fits(found, rule)) {
      if (found.expireAtMs < now) found.clear()
      return found
    }
    const spare = this.#spares[i] as RuleState
    spare.clear()
    return spare
  }
}
