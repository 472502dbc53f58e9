import { type Clock, systemClock } from '../core/clock.js'
import { CircuitBreaker } from '../core/circuit-breaker.js'
import { InvalidOptionError, type TollgateError, UnsupportedByStoreError } from '../core/errors.js'
import { TypedEmitter } from '../core/events.js'
import { safeIdentifier } from '../stores/keys.js'
import { MemoryStore } from '../stores/memory-store.js'
import type { Store } from '../stores/types.js'
import { BlockCache } from './block-cache.js'
import type { DecideMode } from './decide.js'
import { DecisionBatcher } from './decision-batcher.js'
import { policyDecision, toDecision } from './decision.js'
import { LocalDecisions, ruleKey } from './local-decisions.js'
import { memcachedFixedWindow } from './memcached-window.js'
import { StateGroups } from './state-groups.js'
import { IDENTITY_CACHE, IdentityCache } from './identity-cache.js'
import { RemoteDecision, type RemoteOutcomes } from './remote-decision.js'
import { type NormalizedRule, type ParsedOptions, parseRateLimiterOptions, type RateLimiterOptions } from './options.js'
import type { RateLimitDecision, RateLimiterEvents, RateLimiterStats } from './types.js'
import { DEFAULTS } from '../core/defaults.js'
import { createStore } from '../stores/create-store.js'

export interface ConsumeOptions {
  /**
   * What this request costs: one number for every rule, or per rule name (`{ requests: 1, tokens: 1800 }`;
   * rules left out cost 1). Whole numbers >= 0. Default 1.
   */
  cost?: number | Record<string, number>
  /**
   * Values of the rules' scopes for this call: `{ user: 'alice', model: 'gpt-4o' }`. A rule with
   * `scope: 'user'` counts per user (inside the key's own counters, so one key's users never share
   * with another key's); a scoped rule whose scope has no value here is skipped.
   */
  scopes?: Record<string, string>
}

export interface AdjustOptions {
  /** Units to add (positive) or give back (negative) per rule name; rules left out are untouched. */
  cost: Record<string, number>
  scopes?: Record<string, string>
}

/** The store could not be asked (down, slow, full): the circuit counts a failure. */
const STORE_FAILURES = new Set(['E_STORE_UNAVAILABLE', 'E_STORE_TIMEOUT', 'E_STORE_FULL'])
/**
 * The store answered, with an error (OOM under noeviction, MISCONF, NOPERM after an ACL change, NOAUTH
 * after a password rotation): it is reachable, so the circuit stays closed and the next call asks it
 * again, but this call is decided by `onStoreError` like any other store failure, never thrown.
 */
const STORE_REFUSALS = new Set(['E_STORE_COMMAND'])

/**
 * A rate limiter over a store: one atomic decision per call, several rules all or nothing, time from
 * the store's server. When the store fails, `onStoreError` decides; a circuit breaker stops calling a
 * dead store and probes it until it answers again.
 */
export class RateLimiter {
  readonly events = new TypedEmitter<RateLimiterEvents>()
  readonly rules: readonly NormalizedRule[]
  readonly #options: ParsedOptions
  readonly #store: Store
  readonly #ownsStore: boolean
  readonly #clock: Clock
  readonly #breaker: CircuitBreaker
  readonly #blockCache: BlockCache | undefined
  /** Remote script stores only: the memory store decides synchronously, with nothing to batch. */
  readonly #batcher: DecisionBatcher<RateLimitDecision> | undefined
  /** Which rules share a key on the remote store. */
  readonly #groups: StateGroups
  /** A remote script store's unscoped keys of recent identities (see {@link IdentityCache}). */
  readonly #remoteIds: IdentityCache<{ id: string; keys: readonly string[] }> | undefined
  readonly #fallbackRules: NormalizedRule[]
  #fallbackStore: MemoryStore | undefined
  #fallbackDecisions: LocalDecisions | undefined
  /** Decisions on the store itself when it is a memory store: synchronous, in place. */
  readonly #local: LocalDecisions | undefined
  /** The costs of the decision under way on a memory store: filled, read and done with synchronously. */
  readonly #localCosts: number[]
  /** 1 for every rule: the costs of a remote consume without `cost` when {@link #unscoped}. */
  readonly #ones: readonly number[]
  /** No rule has a scope. */
  readonly #unscoped: boolean
  readonly #keyHead: string
  readonly #unsubscribe: () => void
  #onFallback = false
  #closed = false
  readonly #stats = { allowed: 0, blocked: 0, fallbackDecisions: 0, blockCacheHits: 0, storeErrors: 0, fallbackSwitches: 0 }

  constructor(options: RateLimiterOptions) {
    this.#options = parseRateLimiterOptions(options)
    this.rules = this.#options.rules
    this.#clock = this.#options.clock ?? systemClock
    this.#ownsStore = this.#options.store === undefined
    this.#store = this.#options.store ?? createStore({ clock: this.#clock })
    if (!this.#store.capabilities.scripts) {
      const [rule] = this.rules
      if (this.rules.length > 1) throw new UnsupportedByStoreError(this.#store.name, 'atomic scripts', 'a limiter with several rules')
      if (rule?.algorithm !== 'fixed-window') throw new UnsupportedByStoreError(this.#store.name, 'atomic scripts', `the ${rule?.algorithm} algorithm`)
    }
    const { failureThreshold, probeInterval } = this.#options.circuitBreaker
    this.#breaker = new CircuitBreaker(this.#clock, failureThreshold, probeInterval)
    // Only a remote store has round trips for the cache to save.
    const remote = this.#store.capabilities.shared
    this.#blockCache = this.#options.blockCache && remote ? new BlockCache(this.#options.blockCache.maxKeys, this.#clock) : undefined
    this.#groups = new StateGroups(this.rules)
    this.#batcher =
      this.#store.capabilities.scripts && !(this.#store instanceof MemoryStore)
        ? new DecisionBatcher(
            this.#store,
            this.rules.map((rule) => ({ algo: rule.code, limit: rule.limit, windowMs: rule.windowMs, param: rule.param })),
            this.#options.batchSize,
            (reply, offset) => toDecision(reply, this.rules, 'store', offset),
            this.#groups.ofRule,
          )
        : undefined
    this.#remoteIds = this.#batcher && new IdentityCache(IDENTITY_CACHE, (id) => ({ id, keys: this.#groups.keys(this.#keyHead, id, undefined) }))
    const share = (n: number) => Math.max(1, Math.floor(n / this.#options.instances))
    this.#fallbackRules = this.rules.map((rule) => ({ ...rule, limit: share(rule.limit), param: rule.code === 't' ? share(rule.param) : rule.param }))
    this.#keyHead = `rl:${this.#options.namespace ? `${this.#options.namespace}:` : ''}`
    this.#local = this.#store instanceof MemoryStore ? new LocalDecisions(this.#store, this.rules, this.#keyHead) : undefined
    this.#localCosts = this.rules.map(() => 1)
    this.#ones = Object.freeze(this.rules.map(() => 1))
    this.#unscoped = this.rules.every((rule) => rule.scope === undefined)
    // A reconnect is the best moment to probe: no need to wait out the rest of the interval.
    this.#unsubscribe = this.#store.events.on('ready', () => this.#breaker.probeNow())
  }

  /** Takes `cost` from every rule for `key`, or nothing if any rule refuses. */
  consume(key: string, options?: ConsumeOptions): Promise<RateLimitDecision> {
    if (this.#local === undefined) return this.#consumeShared(key, options ?? {})
    // On a memory store the decision is made here and now: one settled promise, no chain of them.
    try {
      const costs = this.#scoped(this.#costs(options?.cost, this.#localCosts), options?.scopes)
      // The key, not its identity: LocalDecisions makes it one only for a key it has not seen recently.
      return Promise.resolve(this.#report(key, this.#decideLocal(this.#local, this.#checkKey(key), costs, 'c', options?.scopes)))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #consumeShared(key: string, options: ConsumeOptions): Promise<RateLimitDecision> {
    try {
      const scopes = options.scopes
      // The default cost, when no scoped rule can zero a part of it, is one array for every call: a
      // remote decision keeps its costs until its batch leaves, but never changes them.
      const costs = this.#scoped(options.cost === undefined && this.#unscoped ? (this.#ones as number[]) : this.#costs(options.cost), scopes)
      let id: string
      let keys: readonly string[]
      if (scopes === undefined && this.#remoteIds !== undefined) ({ id, keys } = this.#remoteIds.get(this.#checkKey(key)))
      else {
        id = this.#identity(key)
        keys = this.#keys(id, false, scopes)
      }
      if (scopes === undefined && this.#blockCache && !this.#onFallback) {
        const cached = this.#blockCache.get(id, costs)
        if (cached) {
          this.#stats.blockCacheHits++
          return Promise.resolve(this.#report(key, cached))
        }
      }
      return this.#decide(key, id, keys, costs, 'c', scopes)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** What `consume` would answer for `cost` (default 1), without taking anything. */
  async peek(key: string, options: ConsumeOptions = {}): Promise<RateLimitDecision> {
    const costs = this.#scoped(this.#costs(options.cost), options.scopes)
    const id = this.#identity(key)
    return this.#local ? this.#decideLocal(this.#local, id, costs, 'p', options.scopes) : this.#decide(undefined, id, this.#keys(id, false, options.scopes), costs, 'p', options.scopes)
  }

  /**
   * Corrects what was taken, whatever the limits say: adds units (usage above an estimate, even past
   * the limit, so later requests wait for it) or gives them back (a negative cost: usage below the
   * estimate; never more than was taken). The reply says where each rule stands afterwards.
   */
  async adjust(key: string, options: AdjustOptions): Promise<RateLimitDecision> {
    if (!this.#store.capabilities.scripts) throw new UnsupportedByStoreError(this.#store.name, 'atomic scripts', 'adjust')
    const cost = options?.cost
    if (cost === null || typeof cost !== 'object') throw new InvalidOptionError('cost', cost, '{ ruleName: number }')
    const costs = this.rules.map((rule) => {
      const value = (Object.hasOwn(cost, rule.name) ? cost[rule.name] : undefined) ?? 0
      if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 1e12) throw new InvalidOptionError(`cost.${rule.name}`, value, 'a whole number from -1e12 to 1e12')
      return value
    })
    this.#checkNames(cost)
    const id = this.#identity(key)
    this.#blockCache?.delete(id)
    const scoped = this.#scoped(costs, options.scopes)
    return this.#local ? this.#decideLocal(this.#local, id, scoped, 'f', options.scopes) : this.#decide(undefined, id, this.#keys(id, false, options.scopes), scoped, 'f', options.scopes)
  }

  /**
   * Forgets everything about `key`: its counters on the store and in the fallback, and any cached
   * block. A scoped rule's counter is the one of the scope value given in `scopes` (as `consume`
   * takes them); without one, the counter of calls that had none.
   */
  async reset(key: string, options: { scopes?: Record<string, string> } = {}): Promise<void> {
    const id = this.#identity(key)
    const { scopes } = options
    if (scopes !== undefined && (scopes === null || typeof scopes !== 'object')) throw new InvalidOptionError('scopes', scopes, '{ scopeName: string }')
    this.#blockCache?.delete(id)
    await this.#fallbackStore?.delete(...this.#ruleKeys(id, scopes))
    await this.#store.delete(...this.#keys(id, true, scopes))
  }

  stats(): RateLimiterStats {
    return { ...this.#stats, circuit: this.#breaker.state }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe()
    this.#blockCache?.clear()
    await this.#fallbackStore?.close()
    if (this.#ownsStore) await this.#store.close()
  }

  /**
   * One decision of the remote store, or of `onStoreError` while the circuit is open or when the store
   * fails (see {@link #outcomes}). `key` is given for a consume, whose decision is reported. Throws
   * (does not reject) for what the policy cannot decide; the callers turn that into a rejection.
   */
  #decide(key: string | undefined, id: string, keys: readonly string[], costs: number[], mode: DecideMode, scopes?: Record<string, string>): Promise<RateLimitDecision> {
    if (!this.#breaker.allow()) {
      const decision = this.#policy(id, costs, mode, scopes)
      return Promise.resolve(key === undefined ? decision : this.#report(key, decision))
    }
    const request = new RemoteDecision(this.#outcomes, key, id, keys, costs, mode, scopes)
    if (this.#batcher) this.#batcher.enqueue(request)
    else {
      memcachedFixedWindow(this.#store, keys[0] as string, this.rules[0] as NormalizedRule, costs[0] as number, mode as 'c' | 'p', this.#clock).then(
        (reply) => request.settle(toDecision(reply, this.rules, 'store')),
        (error: unknown) => request.fail(error),
      )
    }
    return request.promise
  }

  readonly #outcomes: RemoteOutcomes = {
    answered: (request, decision) => {
      this.#breaker.success()
      // Only a consume proves the store takes writes again: a store that refuses writes (OOM,
      // MISCONF, READONLY) still answers a peek or an adjustment that writes nothing, and switching
      // back on those would flap the log on every refund.
      if (request.mode === 'c') {
        this.#switch(false)
        if (request.scopes === undefined && !decision.allowed && decision.source === 'store') this.#blockCache?.set(request.id, request.costs, decision)
      }
      return request.key === undefined ? decision : this.#report(request.key, decision)
    },
    failed: (request, error) => {
      this.#storeFailed(error)
      const decision = this.#policy(request.id, request.costs, request.mode, request.scopes)
      return request.key === undefined ? decision : this.#report(request.key, decision)
    },
  }

  /** {@link #decide} on a memory store, synchronously: the same breaker, policy and switches; `id` may be the key itself (see LocalDecisions.decide). */
  #decideLocal(local: LocalDecisions, id: string, costs: number[], mode: DecideMode, scopes?: Record<string, string>): RateLimitDecision {
    if (this.#breaker.allow()) {
      try {
        const decision = local.decide(id, costs, mode, scopes, 'store')
        this.#breaker.success()
        if (mode === 'c') this.#switch(false)
        return decision
      } catch (err) {
        // A copy: the costs may be the shared ones, and a listener of the events below may decide again.
        costs = costs.slice()
        this.#storeFailed(err)
      }
    }
    return this.#policy(id, costs, mode, scopes)
  }

  /** Counts and reports a store failure (onStoreError decides next), or rethrows an error that is none. */
  #storeFailed(err: unknown): void {
    const code = (err as TollgateError).code
    const refused = STORE_REFUSALS.has(code)
    if (!refused && !STORE_FAILURES.has(code)) {
      this.#breaker.settle()
      throw err
    }
    this.#stats.storeErrors++
    // The circuit counts the failure before any listener hears of it: a listener that throws rejects
    // this call, but must not leave a half-open probe unreported (the circuit would never probe again).
    if (refused) this.#breaker.success()
    else this.#breaker.failure()
    this.events.emit('store-error', { error: err as Error })
    this.#switch(true, err as Error)
  }

  #policy(id: string, costs: number[], mode: DecideMode, scopes?: Record<string, string>): RateLimitDecision {
    this.#stats.fallbackDecisions++
    const policy = this.#options.onStoreError
    if (policy !== 'fallback') return policyDecision(this.rules, policy === 'allow', this.#options.circuitBreaker.probeInterval)
    this.#fallbackStore ??= new MemoryStore({
      keyPrefix: '',
      maxBytes: this.#options.fallbackMaxBytes,
      maxValueBytes: DEFAULTS.store.maxValueBytes,
      maxKeyBytes: DEFAULTS.store.maxKeyBytes,
      clock: this.#clock,
    })
    this.#fallbackDecisions ??= new LocalDecisions(this.#fallbackStore, this.#fallbackRules, this.#keyHead)
    return this.#fallbackDecisions.decide(id, costs, mode, scopes, 'fallback')
  }

  /** Logs and counts each switch between the store and the policy once, not once per request. */
  #switch(toFallback: boolean, error?: Error): void {
    if (this.#onFallback === toFallback) return
    this.#onFallback = toFallback
    const logger = this.#options.logger === undefined ? console : this.#options.logger
    if (toFallback) {
      this.#stats.fallbackSwitches++
      this.events.emit('fallback-on', { error: error as Error })
      if (logger) logger.warn(`tollgate: rate limiter store ${this.#store.name} failed (${error?.message}); onStoreError=${this.#options.onStoreError} decides until it answers again`)
    } else {
      this.events.emit('fallback-off', {})
      if (logger) logger.info(`tollgate: rate limiter store ${this.#store.name} answers again; back to shared limits`)
    }
  }

  #report(key: string, decision: RateLimitDecision): RateLimitDecision {
    // listening() first: the payload would be built for nobody on every decision.
    if (decision.allowed) {
      this.#stats.allowed++
      if (this.events.listening('allowed')) this.events.emit('allowed', { key, decision })
    } else {
      this.#stats.blocked++
      if (this.events.listening('blocked')) this.events.emit('blocked', { key, decision })
    }
    return decision
  }

  #identity(key: string): string {
    return safeIdentifier(this.#checkKey(key))
  }

  #checkKey(key: string): string {
    if (typeof key !== 'string') throw new InvalidOptionError('key', key, 'a string identifying who is limited')
    return key
  }

  /** A key per rule, as a memory store (the limiter's own or the fallback) holds them. */
  #ruleKeys(id: string, scopes?: Record<string, string>): string[] {
    return this.rules.map((rule) => ruleKey(this.#keyHead, rule, id, scopes))
  }

  /**
   * The store's keys for `id`: a memory store's one per rule; a remote script store's one per
   * {@link StateGroups} group; memcached's the rule's key and window (`allWindows`: the current one).
   */
  #keys(id: string, allWindows = false, scopes?: Record<string, string>): string[] {
    if (this.#local !== undefined) return this.#ruleKeys(id, scopes)
    if (this.#batcher !== undefined) return this.#groups.keys(this.#keyHead, id, scopes)
    const keys = this.#ruleKeys(id, scopes)
    if (!allWindows) return keys
    const rule = this.rules[0] as NormalizedRule
    return [`${keys[0]}:${Math.floor(this.#clock.now() / rule.windowMs)}`]
  }

  /** Scoped rules without a value for their scope in this call take nothing (set to 0 in `costs`). */
  #scoped(costs: number[], scopes: Record<string, string> | undefined): number[] {
    if (scopes !== undefined && (scopes === null || typeof scopes !== 'object')) throw new InvalidOptionError('scopes', scopes, '{ scopeName: string }')
    for (let i = 0; i < costs.length; i++) {
      const scope = (this.rules[i] as NormalizedRule).scope
      if (scope === undefined) continue
      const value = scopes !== undefined && Object.hasOwn(scopes, scope) ? scopes[scope] : undefined
      if (value !== undefined && typeof value !== 'string') throw new InvalidOptionError(`scopes.${scope}`, value, 'a string')
      if (value === undefined || value === '') costs[i] = 0
    }
    return costs
  }

  /** Each rule's cost, in `out` (a new array unless given). */
  #costs(cost: ConsumeOptions['cost'], out: number[] = this.rules.map(() => 1)): number[] {
    if (cost === undefined) return fill(out, 1)
    if (typeof cost === 'number') {
      checkCost(cost, 'cost')
      return fill(out, cost)
    }
    if (cost === null || typeof cost !== 'object') throw new InvalidOptionError('cost', cost, 'a number or { ruleName: number }')
    // A loop without closures or option names built ahead of an error: a gateway call passes an
    // object of costs on every decision.
    let named = 0
    for (let i = 0; i < out.length; i++) {
      const name = (this.rules[i] as NormalizedRule).name
      const own = Object.hasOwn(cost, name)
      // Counted as Object.keys() counts: a non-enumerable rule cost must not hide an unknown name.
      if (own && isEnumerable.call(cost, name)) named++
      const value = (own ? cost[name] : undefined) ?? 1
      if (!validCost(value)) {
        // A name that is no rule's is the first thing to say.
        this.#checkNames(cost)
        throw new InvalidOptionError(`cost.${name}`, value, COST_RANGE)
      }
      out[i] = value
    }
    if (named !== ownKeys(cost)) this.#checkNames(cost)
    return out
  }

  /** Throws for a name in `cost` that is no rule's. */
  #checkNames(cost: Record<string, number>): void {
    for (const name of Object.keys(cost)) {
      if (!this.rules.some((rule) => rule.name === name)) throw new InvalidOptionError(`cost.${name}`, cost[name], `one of the rule names: ${this.rules.map((r) => r.name).join(', ')}`)
    }
  }
}

/** Array.prototype.fill, as a loop: V8 runs fill() in C++, which costs a memory-store decision ~10% for one element. */
function fill(out: number[], value: number): number[] {
  for (let i = 0; i < out.length; i++) out[i] = value
  return out
}

/** Object.keys(record).length without the array: every decision of a gateway call counts its costs' names. */
function ownKeys(record: object): number {
  let count = 0
  for (const name in record) if (Object.hasOwn(record, name)) count++
  return count
}

const COST_RANGE = 'a whole number from 0 to 1e12'
const isEnumerable = Object.prototype.propertyIsEnumerable

function validCost(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 1e12
}

function checkCost(value: unknown, option: string): void {
  if (!validCost(value)) throw new InvalidOptionError(option, value, COST_RANGE)
}

/** Creates a rate limiter; see {@link RateLimiterOptions}. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  return new RateLimiter(options)
}
