import { CircuitBreaker } from '../core/circuit-breaker.js'
import type { Clock } from '../core/clock.js'
import { StoreUnavailableError, type TollgateError } from '../core/errors.js'
import type { SetOptions, Store } from '../stores/types.js'
import { LEASE_ACQUIRE, LEASE_RELEASE, LEASE_RENEW, leaseOwner, STORE_TIME } from './scripts.js'
import { ReadBatcher } from './read-batcher.js'
import type { StoreClock } from './store-clock.js'

const STORE_FAILURES = new Set(['E_STORE_UNAVAILABLE', 'E_STORE_TIMEOUT', 'E_STORE_CLOSED'])
const NOTHING: Promise<undefined> = Promise.resolve(undefined)

/** What a lease attempt found. */
export interface LeaseAnswer {
  taken: boolean
  /** The holder's value when not taken: `owner` or `owner state`. */
  holder: string
  /** The store's clock when it answered, where the store has one (Redis TIME, the memory store's clock). */
  storeTime?: number
}

/** PX takes whole milliseconds >= 1. */
const wholeMs = (ms: number): number => Math.max(1, Math.ceil(ms))

/** Reports an L2 failure; the cache counts it and emits `error`. */
export type FailureReporter = (operation: string, error: Error) => void

/**
 * L2 as the cache sees it: a store behind a circuit breaker, where a failure is never thrown. A read
 * that fails answers "nothing" (the caller treats it as a miss and loads), a write that fails answers
 * false (counted, the value still goes back to the caller). While the circuit is open the store is not
 * called at all, so a dead Redis costs nothing per request instead of a command timeout.
 */
export class RemoteTier {
  readonly #breaker: CircuitBreaker
  readonly #unsubscribe: () => void
  readonly #reads: ReadBatcher

  constructor(
    readonly store: Store,
    clock: Clock,
    failureThreshold: number,
    probeIntervalMs: number,
    private readonly report: FailureReporter,
    /** Learns the store's clock from the lease replies (only a shared store's clock is worth learning). */
    private readonly storeClock?: StoreClock,
  ) {
    this.#breaker = new CircuitBreaker(clock, failureThreshold, probeIntervalMs)
    this.#unsubscribe = store.events.on('ready', () => {
      this.#breaker.probeNow()
      // A reconnect may be to another server (a failover): its clock is another one.
      this.storeClock?.forget()
      void this.sampleClock()
    })
    this.#reads = new ReadBatcher(
      (key) => store.get(key),
      (keys) => store.getMany(keys),
    )
  }

  get circuit(): CircuitBreaker['state'] {
    return this.#breaker.state
  }

  /**
   * The value, null when missing, undefined when L2 could not be asked (callers treat both as a miss).
   * Written without async/await: it is every L2 hit's path, and each await layer is a promise more.
   */
  get(key: string): Promise<Buffer | null | undefined> {
    if (!this.#breaker.allow()) return NOTHING
    return this.#reads.get(key).then(this.#succeeded, this.#failedGet)
  }

  readonly #succeeded = <T>(value: T): T => {
    this.#breaker.success()
    return value
  }

  readonly #failedGet = (err: unknown): undefined => {
    // Every waiter of one failed batched read (one MGET) gets the same error: it is one failure of
    // the store, counted once, or one slow MGET would open the circuit by itself.
    if (this.#lastGetFailure === err) return undefined
    this.#lastGetFailure = err
    this.#failed('get', err as Error)
    return undefined
  }
  #lastGetFailure: unknown

  set(key: string, value: Buffer | string, options: SetOptions): Promise<boolean> {
    return this.#call('set', false, () => this.store.set(key, value, options))
  }

  /**
   * Takes a lease, or says who holds it (the holder's value: `owner` or `owner state`); 'failed' when
   * L2 could not be asked. Where the store runs scripts this is one atomic step that also reads the
   * store's clock (`storeTime`); elsewhere (memcached) SET NX, then a read of the holder.
   */
  acquire(key: string, owner: string, ttlMs: number): Promise<LeaseAnswer | 'failed'> {
    return this.#call<LeaseAnswer | 'failed'>('lease', 'failed', async () => {
      if (this.store.capabilities.scripts) {
        const sentAt = this.storeClock?.local() ?? 0
        const [taken, holder, time] = await this.store.runScript(LEASE_ACQUIRE, [key], [owner, wholeMs(ttlMs)])
        const answer: LeaseAnswer = { taken: taken === 1, holder: String(holder) }
        // A store of this process keeps its own clock, and an injected clock is the cache's time.
        if (this.store.capabilities.shared && this.storeClock?.learns) {
          answer.storeTime = Number(time)
          this.storeClock?.observe(answer.storeTime, sentAt, this.storeClock.local())
        }
        return answer
      }
      if (await this.store.set(key, owner, { ttlMs, ifNotExists: true })) return { taken: true, holder: '' }
      return { taken: false, holder: (await this.store.get(key))?.toString('utf8') ?? '' }
    })
  }

  /**
   * Extends `owner`'s lease to `ttlMs` from now and sets its value: 'renewed', 'lost' when it is not
   * `owner`'s any more (expired, taken by another), 'failed' when L2 could not be asked (the lease
   * may well still be ours: try again). Compare-and-extend where the store runs scripts;
   * read-then-write on memcached, whose window is documented.
   */
  renewLease(key: string, owner: string, ttlMs: number, value: string): Promise<'renewed' | 'lost' | 'failed'> {
    return this.#call<'renewed' | 'lost' | 'failed'>('lease renew', 'failed', async () => {
      if (this.store.capabilities.scripts) return (await this.store.runScript(LEASE_RENEW, [key], [owner, wholeMs(ttlMs), value])) === 1 ? 'renewed' : 'lost'
      if (!(await this.#owns(key, owner))) return 'lost'
      await this.store.set(key, value, { ttlMs })
      return 'renewed'
    })
  }

  /** Deletes the lease if `owner` still holds it (compare-and-delete): never another instance's. */
  releaseLease(key: string, owner: string): Promise<boolean> {
    return this.#call('lease release', false, async () => {
      if (this.store.capabilities.scripts) return (await this.store.runScript(LEASE_RELEASE, [key], [owner])) === 1
      if (!(await this.#owns(key, owner))) return false
      return (await this.store.delete(key)) > 0
    })
  }

  async #owns(key: string, owner: string): Promise<boolean> {
    const value = await this.store.get(key)
    return value !== null && leaseOwner(value.toString('utf8')) === owner
  }

  delete(keys: string[]): Promise<boolean> {
    return this.#call('delete', false, async () => {
      await this.store.delete(...keys)
      return true
    })
  }

  /**
   * Runs an invalidation write, which unlike a value write must not fail silently: a deploy script
   * that cleared nothing has to know. Counted and reported like the others, then thrown.
   */
  async required<R>(operation: string, work: (store: Store) => Promise<R>): Promise<R> {
    let failure: Error | undefined
    const result = await this.#call<R | undefined>(operation, undefined, () => work(this.store), (err) => (failure = err))
    if (failure) throw failure
    if (result === undefined) throw new StoreUnavailableError(this.store.name, `${operation} (circuit open)`)
    return result
  }

  publish(channel: string, message: string): Promise<boolean> {
    return this.#call('publish', false, async () => {
      await this.store.publish(channel, message)
      return true
    })
  }

  /**
   * Reads the store's clock once, so stamps made before the first lease or tag invalidation are
   * already in store time. Only where it is worth it: a shared store that runs scripts.
   */
  async sampleClock(): Promise<void> {
    const clock = this.storeClock
    if (!clock?.learns || !this.store.capabilities.scripts || !this.store.capabilities.shared) return
    await this.#call('time', undefined, async () => {
      const sentAt = clock.local()
      clock.observe(Number(await this.store.runScript(STORE_TIME, [], [])), sentAt, clock.local())
    })
  }

  close(): void {
    this.#unsubscribe()
  }

  async #call<R>(operation: string, failed: R, work: () => Promise<R>, onError?: (err: Error) => void): Promise<R> {
    if (!this.#breaker.allow()) return failed
    try {
      const result = await work()
      this.#breaker.success()
      return result
    } catch (err) {
      this.#failed(operation, err as Error)
      onError?.(err as Error)
      return failed
    }
  }

  #failed(operation: string, err: Error): void {
    // Only unavailability opens the circuit; a rejected command (wrong type, too large) is the
    // caller's problem, not the store's health, but it still must not fail a read.
    if (STORE_FAILURES.has((err as TollgateError).code)) this.#breaker.failure()
    else this.#breaker.success()
    this.report(operation, err)
  }
}
