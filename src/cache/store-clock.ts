import type { Clock } from '../core/clock.js'

/** How long a tight sample of the offset outranks a looser one. */
const SAMPLE_LIFETIME_MS = 60_000

/**
 * The shared store's clock as seen from this host. A tag invalidation is stamped by one instance and
 * compared with entries stamped by others, so both stamps come from the store (Redis `TIME`) rather
 * than from two hosts' clocks. Every store-time reply is a sample of the offset between the clocks,
 * and half the round trip it took is its uncertainty; `stamp()` subtracts that uncertainty, so an
 * entry's stamp errs early (a needless miss after an invalidation), never late (a stale hit).
 *
 * Until the first sample, and on a store without a clock (memcached), the offset is 0: the host's
 * clock is used, and the bound is the hosts' clock skew (documented in docs/production.md).
 */
export class StoreClock implements Clock {
  #offset = 0
  #error = Number.POSITIVE_INFINITY
  /** Local time of the sample in use. */
  #sampledAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly clock: Clock,
    /**
     * Whether to learn the store's clock. Not with a clock the caller injected: that clock is the
     * cache's time by the caller's choice (a test moving it by hand), and the store cannot know it.
     */
    readonly learns: boolean,
  ) {}

  /** Local time in ms, by the cache's clock: what samples are bracketed with. */
  local(): number {
    return this.clock.now()
  }

  /** Records the store time `storeTime` read between local times `sentAt` and `answeredAt`. */
  observe(storeTime: number, sentAt: number, answeredAt: number): void {
    if (!this.learns || !Number.isFinite(storeTime) || answeredAt < sentAt) return
    const error = (answeredAt - sentAt) / 2
    // A reply held up by a busy event loop says little about the clock: it replaces a tighter sample
    // only once that one is a minute old (clocks drift by far less than that in a minute).
    if (error > this.#error && answeredAt - this.#sampledAt < SAMPLE_LIFETIME_MS) return
    this.#error = error
    this.#offset = storeTime - (sentAt + error)
    this.#sampledAt = answeredAt
  }

  /** Lets the next sample in whatever its uncertainty: the store may be another server now (a failover). */
  forget(): void {
    this.#error = Number.POSITIVE_INFINITY
  }

  /**
   * The store's time now, as best this host knows it: what entries' lifetimes are measured in, so an
   * entry written by one host expires at the same moment for every other.
   */
  now(): number {
    return this.clock.now() + this.#offset
  }

  /** The store's time now at the early end of what this host can know of it: an entry's creation stamp. */
  stamp(): number {
    return this.clock.now() + this.#offset - (Number.isFinite(this.#error) ? this.#error : 0)
  }

  /** A store-time stamp on this host's clock (for ages shown to callers). */
  toLocal(storeTime: number): number {
    return storeTime - this.#offset
  }
}
