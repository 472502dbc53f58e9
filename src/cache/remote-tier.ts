import { CircuitBreaker } from '../core/circuit-breaker.js'
import type { Clock } from '../core/clock.js'
import { StoreUnavailableError, type TollgateError } from '../core/errors.js'
import type { SetOptions, Store } from '../stores/types.js'
import { ReadBatcher } from './read-batcher.js'

const STORE_FAILURES = new Set(['E_STORE_UNAVAILABLE', 'E_STORE_TIMEOUT', 'E_STORE_CLOSED'])
const NOTHING: Promise<undefined> = Promise.resolve(undefined)

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
  ) {
    this.#breaker = new CircuitBreaker(clock, failureThreshold, probeIntervalMs)
    this.#unsubscribe = store.events.on('ready', () => this.#breaker.probeNow())
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

  /** Takes a lease (SET NX PX); 'failed' when L2 could not be asked. */
  acquire(key: string, owner: string, ttlMs: number): Promise<'acquired' | 'held' | 'failed'> {
    return this.#call<'acquired' | 'held' | 'failed'>('lease', 'failed', async () =>
      (await this.store.set(key, owner, { ttlMs, ifNotExists: true })) ? 'acquired' : 'held',
    )
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
