import { LRUCache } from 'lru-cache'
import type { Clock } from '../core/clock.js'
import type { RemoteTier } from './remote-tier.js'
import { TAG_MARK } from './scripts.js'
import type { StoreClock } from './store-clock.js'

interface Marker {
  value: number
  /** When it was last read from (or written to) L2; -Infinity forces a read. */
  checkedAt: number
  loading?: Promise<number> | undefined
  /** Bumped by every local change, so a read from L2 that started before one cannot undo it. */
  epoch: number
}

const unknown = (): Marker => ({ value: 0, checkedAt: Number.NEGATIVE_INFINITY, epoch: 0 })

/** L2 keys of the markers; `#` cannot start an entry's generation segment, so they never collide. */
export const generationKey = (ns: string) => `c:${ns}:#gen`
export const tagKey = (ns: string, tag: string) => `c:${ns}:#tag:${tag}`

/**
 * Namespace generations and tag invalidation times: the two numbers that make invalidation O(1).
 *
 * Each lives in L2 (so every instance sees it) and in a local map (so a read needs no round trip).
 * The bus pushes changes to the local maps at once; without a bus (memcached, or while disconnected)
 * a local value is re-read from L2 once it is older than the refresh interval, which bounds how long
 * another instance can miss an invalidation. A known value is used while being re-read in the
 * background, so a refresh never adds a round trip to a hit.
 */
export class Markers {
  /**
   * Bounded like the tags when L2 holds the truth (namespaces can be chosen per request, by the
   * gateway's namespace header; a forgotten one is read again). Without L2 this map is the truth, and
   * forgetting a cleared namespace's generation would bring its old entries back, so it is kept.
   */
  readonly #generations: { get(ns: string): Marker | undefined; set(ns: string, marker: Marker): unknown; values(): Iterable<Marker> }
  readonly #tags: LRUCache<string, Marker>
  /** Latest invalidation made here, so an entry created in the same millisecond after it is valid. */
  #lastInvalidation = 0

  constructor(
    private readonly remote: RemoteTier | undefined,
    private readonly clock: Clock,
    private readonly storeClock: StoreClock,
    private readonly refreshMs: () => number,
    private readonly maxTtlMs: number,
    tagTimesMaxKeys: number,
  ) {
    this.#tags = new LRUCache({ max: tagTimesMaxKeys })
    this.#generations = remote ? new LRUCache<string, Marker>({ max: tagTimesMaxKeys }) : new Map<string, Marker>()
  }

  /**
   * Creation stamp, in store time, for a value produced now (or from `storeTime`, the store's clock
   * read when the load started): never before an invalidation made by this instance.
   */
  createdAt(storeTime?: number): number {
    return Math.max(storeTime ?? this.storeClock.stamp(), this.#lastInvalidation)
  }

  generation(ns: string): number | Promise<number> {
    let marker = this.#generations.get(ns)
    if (!marker) {
      marker = unknown()
      this.#generations.set(ns, marker)
    }
    return this.#read(marker, generationKey(ns))
  }

  /** The latest invalidation time among `tags` (0 when none was ever invalidated). */
  tagTime(ns: string, tags: readonly string[]): number | Promise<number> {
    let latest = 0
    let pending: Array<Promise<number>> | undefined
    for (const tag of tags) {
      const id = `${ns}\n${tag}`
      let marker = this.#tags.get(id)
      if (!marker) {
        marker = unknown()
        this.#tags.set(id, marker)
      }
      const time = this.#read(marker, tagKey(ns, tag))
      if (typeof time === 'number') latest = Math.max(latest, time)
      else (pending ??= []).push(time)
    }
    if (!pending) return latest
    return Promise.all(pending).then((times) => Math.max(latest, ...times))
  }

  /** Moves the namespace to a new generation, in L2 first (throws when it cannot be reached). */
  async bumpGeneration(ns: string): Promise<number> {
    const next = this.remote
      ? await this.remote.required('clearNamespace', async (store) => {
          const value = await store.increment(generationKey(ns), 1, { ttlMs: this.maxTtlMs })
          // increment keeps an existing counter's expiry; the marker must outlive every entry made after it.
          await store.expire(generationKey(ns), this.maxTtlMs)
          return value
        })
      : (this.#generations.get(ns)?.value ?? 0) + 1
    this.observeGeneration(ns, next)
    return next
  }

  /**
   * Records an invalidation of `tags` now and returns its stamp, taken from the store's clock where
   * the store has one (the comparison with entries stamped by other instances then involves one
   * clock only). The half millisecond puts it after every entry created in the same millisecond
   * before it; `createdAt` puts later ones after it.
   */
  async invalidateTags(ns: string, tags: readonly string[]): Promise<number> {
    const remote = this.remote
    let at = this.storeClock.now() + 0.5
    if (remote) {
      const [first, ...rest] = tags.map((tag) => tagKey(ns, tag))
      const ttlMs = this.maxTtlMs
      at = await remote.required('invalidateTags', async (store) => {
        let stamp = at
        if (first !== undefined && store.capabilities.scripts && store.capabilities.shared && this.storeClock.learns) {
          const sentAt = this.storeClock.local()
          stamp = Number(await store.runScript(TAG_MARK, [first], [ttlMs]))
          this.storeClock.observe(stamp - 0.5, sentAt, this.storeClock.local())
        } else if (first !== undefined) {
          await store.set(first, String(stamp), { ttlMs })
        }
        // One stamp for all: the bus message carries one time. Separate keys, as a Cluster wants.
        await Promise.all(rest.map((key) => store.set(key, String(stamp), { ttlMs })))
        return stamp
      })
    }
    this.#lastInvalidation = Math.max(this.#lastInvalidation, at)
    this.observeTags(ns, tags, at)
    return at
  }

  /** A generation announced by the bus or just written by this instance. */
  observeGeneration(ns: string, generation: number): void {
    this.#observe(this.#generations.get(ns), generation, (marker) => this.#generations.set(ns, marker))
  }

  /** An invalidation announced by the bus or just made by this instance. */
  observeTags(ns: string, tags: readonly string[], at: number): void {
    for (const tag of tags) {
      const id = `${ns}\n${tag}`
      this.#observe(this.#tags.get(id), at, (marker) => this.#tags.set(id, marker))
    }
  }

  #observe(marker: Marker | undefined, value: number, add: (marker: Marker) => void): void {
    if (!marker) return add({ value, checkedAt: this.clock.now(), epoch: 0 })
    marker.epoch++
    if (value > marker.value) marker.value = value
  }

  /** Forces every marker to be read again (after a bus outage, when messages may have been lost). */
  expireAll(): void {
    for (const marker of this.#generations.values()) marker.checkedAt = Number.NEGATIVE_INFINITY
    for (const marker of this.#tags.values()) marker.checkedAt = Number.NEGATIVE_INFINITY
  }

  #read(marker: Marker, key: string): number | Promise<number> {
    const remote = this.remote
    if (!remote || this.clock.now() - marker.checkedAt < this.refreshMs()) return marker.value
    const epoch = marker.epoch
    marker.loading ??= remote.get(key).then((data) => {
      marker.loading = undefined
      // Unreachable L2: keep what we know, and try again on the next read.
      if (data === undefined) return marker.value
      marker.checkedAt = this.clock.now()
      // L2 is the authority, even when it went down: an expired generation marker restarts at 0 on
      // every instance alike. A local change made while this read was in flight is newer, though.
      if (marker.epoch === epoch) {
        const value = data === null ? 0 : Number(data.toString())
        if (Number.isFinite(value)) marker.value = value
      }
      return marker.value
    })
    // Never read before: wait for it. Known: answer now, the read refreshes it for later calls.
    return Number.isFinite(marker.checkedAt) ? marker.value : marker.loading
  }
}
