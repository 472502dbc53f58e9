import { safeIdentifier } from '../stores/keys.js'
import { scopeValue } from './state-groups.js'
import { IdentityCache, keptIdentities, ScopedIdentityCache } from './identity-cache.js'
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

/**
 * A rule's store key for one identity, and the state last found or stored under it: while the store
 * still holds that state, a decision takes it from here, without looking the key up.
 */
class Known {
  state: RuleState | undefined = undefined
  constructor(readonly key: string) {}
}

/**
 * A limiter's decisions over a memory store, synchronously and in place: each rule's state is a
 * {@link RuleState} the store holds and the decision changes, so a decision allocates its reply and,
 * for a key seen for the first time, the state it stores. The same replies as the store's script
 * twin (decide.ts), without its strings, arrays and TTL writes.
 */
export class LocalDecisions {
  readonly #store: MemoryStore
  readonly #local: readonly LocalRule[]
  /** Per rule, an empty state that stands for a missing one; stored (and replaced) once a decision writes to it. */
  readonly #spares: RuleState[]
  /** Per rule, during one decision of several rules: its key and state between the two passes. */
  readonly #knowns: Array<Known | undefined>
  readonly #states: Array<RuleState | undefined>
  /** Recent identities' keys and states (one per rule), see {@link #knownOf}. */
  readonly #known: IdentityCache<Known | Known[]>
  /** The same for calls with scopes, by identity and scope values; undefined when no rule has a scope. */
  readonly #scopedKnown: ScopedIdentityCache<Known | Known[]> | undefined

  constructor(store: MemoryStore, rules: readonly NormalizedRule[], keyHead: string) {
    this.#store = store
    this.#local = rules.map(localRule)
    this.#spares = this.#local.map(newState)
    this.#knowns = rules.map(() => undefined)
    this.#states = rules.map(() => undefined)
    const knowns = (id: string, scopes: Record<string, string> | undefined): Known | Known[] => {
      const built = rules.map((rule) => new Known(store.localKey(ruleKey(keyHead, rule, id, scopes))))
      return built.length === 1 ? (built[0] as Known) : built
    }
    const max = keptIdentities(this.#spares.map((state) => state.bytes))
    this.#known = new IdentityCache(max, (id) => knowns(id, undefined))
    const used = [...new Set(rules.flatMap((rule) => (rule.scope === undefined ? [] : [rule.scope])))]
    this.#scopedKnown = used.length === 0 ? undefined : new ScopedIdentityCache(max, used, knowns)
  }

  /**
   * Decides every rule for `key`, all or nothing; throws the store's `E_STORE_CLOSED` or `E_STORE_FULL`.
   * `key` is the caller's key or its identity: safeIdentifier() makes the one of the other, and leaves an identity as it is.
   */
  decide(key: string, costs: readonly number[], mode: DecideMode, scopes: Record<string, string> | undefined, source: RateLimitDecision['source']): RateLimitDecision {
    const store = this.#store
    store.openLocal()
    const now = store.now()
    const nowUs = now * 1000
    // Rules without a scope have keys whatever the call's scopes are.
    const known = scopes === undefined || this.#scopedKnown === undefined ? this.#knownOf(key) : this.#scopedKnown.get(key, scopes)
    if (this.#local.length === 1) {
      const one = known as Known
      const decision = this.#decide(0, one, this.#state(0, one, now), costs[0] as number, nowUs, mode === 'c' ? IF_ALLOWED : mode === 'f' ? ALWAYS : NEVER)
      return combine([decision], decision.allowed, source)
    }
    // Two passes, as the reference: whether every rule allows, then each rule's reply and write.
    let all = true
    for (let i = 0; i < this.#local.length; i++) {
      const one = (known as Known[])[i] as Known
      const state = this.#state(i, one, now)
      this.#knowns[i] = one
      this.#states[i] = state
      if (!allows(this.#local[i] as LocalRule, state, costs[i] as number, nowUs)) all = false
    }
    const commit = mode === 'f' || (all && mode === 'c') ? ALWAYS : NEVER
    const decisions: RuleDecision[] = []
    for (let i = 0; i < this.#local.length; i++) {
      decisions.push(this.#decide(i, this.#knowns[i] as Known, this.#states[i] as RuleState, costs[i] as number, nowUs, commit))
      this.#knowns[i] = undefined
      this.#states[i] = undefined
    }
    return combine(decisions, all, source)
  }

  #decide(i: number, known: Known, state: RuleState, cost: number, nowUs: number, commit: Commit): RuleDecision {
    const decision = decideRule(this.#local[i] as LocalRule, state, cost, nowUs, commit)
    const spare = this.#spares[i] as RuleState
    if (state === spare && cost !== 0 && (commit === ALWAYS || (commit === IF_ALLOWED && decision.allowed))) {
      this.#store.setLocal(known.key, spare)
      known.state = spare
      this.#spares[i] = newState(this.#local[i] as LocalRule)
    }
    return decision
  }

  /**
   * The keys and states of an unscoped call for `key`: one {@link Known} per rule, or the one itself
   * for one rule. Kept for recent identities because a key built afresh costs more to look up than
   * the whole decision (V8 flattens and hashes a new string on every Map lookup), and a kept state
   * needs no lookup at all.
   */
  #knownOf(key: string): Known | Known[] {
    return this.#known.get(key)
  }

  /**
   * The rule's state under the known key: the one kept there while the store still holds it, else the
   * stored one (emptied if expired: it decides like none), else an empty spare. Either way the store
   * counts it as just used.
   */
  #state(i: number, known: Known, now: number): RuleState {
    let state = known.state
    if (state === undefined || !this.#store.reuseLocal(state)) {
      const found = this.#store.getLocal(known.key)
      state = found instanceof RuleState && fits(found, this.#local[i] as LocalRule) ? found : undefined
      known.state = state
      if (state === undefined) {
        const spare = this.#spares[i] as RuleState
        spare.clear()
        return spare
      }
    }
    if (state.expireAtMs < now) state.clear()
    return state
  }
}
