import { randomUUID } from 'node:crypto'
import { systemClock } from '../core/clock.js'
import { DEFAULTS } from '../core/defaults.js'
import { InvalidOptionError, type TollgateError } from '../core/errors.js'
import { TypedEmitter } from '../core/events.js'
import { jsonSerializer } from '../core/serializer.js'
import { BUS_CHANNEL, type BusMessage, InvalidationBus } from './invalidation-bus.js'
import { type LeaderLease, withLease } from './lease.js'
import { LocalTier } from './local-tier.js'
import { Markers } from './markers.js'
import { type CacheOptions, type CallOptions, checkTags, NAMESPACE, type ParsedCacheOptions, parseCacheOptions, resolveCallOptions } from './options.js'
import { RemoteTier } from './remote-tier.js'
import { SingleFlight } from './single-flight.js'
import { StoreClock } from './store-clock.js'
import { type Found, Tiers } from './tiers.js'
import { loadWithTimeouts } from './timeouts.js'
import type { CacheEvents, CacheGetOptions, CacheResult, CacheSetOptions, CacheStats, GetOrSetOptions, Loader } from './types.js'

/** Everything namespaces of one cache share: tiers, markers, bus, flights, stats and events. */
class CacheCore {
  readonly events = new TypedEmitter<CacheEvents>()
  /** Owner name of this instance's leases. */
  readonly id = randomUUID()
  /** The store's clock (see StoreClock): every entry time is in it, so hosts agree on them. */
  readonly clock: StoreClock
  readonly markers: Markers
  readonly tiers: Tiers
  readonly flights = new SingleFlight()
  readonly bus: InvalidationBus | undefined
  readonly ready: Promise<void>
  readonly counters = { l1Hits: 0, l2Hits: 0, misses: 0, stale: 0, loaderCalls: 0, loaderErrors: 0, coalesced: 0, l2Errors: 0, l2WriteFailures: 0, oversize: 0 }
  closed = false

  constructor(readonly options: ParsedCacheOptions) {
    this.clock = new StoreClock(options.clock ?? systemClock, options.clock === undefined)
    const report = (operation: string, error: Error) => {
      this.counters.l2Errors++
      this.events.emit('error', { operation, error })
    }
    const { store } = options
    const remote = store ? new RemoteTier(store, this.clock, options.circuitBreaker.failureThreshold, options.circuitBreaker.probeInterval, report, this.clock) : undefined
    const local = options.l1 === false ? undefined : new LocalTier(options.l1.maxBytes)
    this.bus = store?.capabilities.pubsub
      ? new InvalidationBus(store, (message) => this.apply(message), () => this.resync(), (error) => report('subscribe', error))
      : undefined
    const refresh = () => (this.bus?.healthy ? DEFAULTS.cache.markerRefreshWithBusMs : options.markerRefresh)
    this.markers = new Markers(remote, this.clock, this.clock, refresh, DEFAULTS.cache.maxTtlMs, DEFAULTS.cache.tagTimesMaxKeys)
    this.tiers = new Tiers(local, remote, this.markers, this.clock, {
      l1TtlMs: options.l1 === false ? undefined : options.l1.ttl,
      maxEntryBytes: options.maxEntryBytes,
      compressFrom: options.compressFrom,
      serializer: options.serializer ?? jsonSerializer,
    }, report)
    this.ready = Promise.all([this.bus?.start(), remote?.sampleClock()]).then(() => undefined)
  }

  /** Applies another instance's invalidation to this one's L1 and markers. */
  apply(message: BusMessage): void {
    if (message.op === 'tags') this.markers.observeTags(message.ns, message.tags, message.at)
    else if (message.op === 'clear') this.markers.observeGeneration(message.ns, message.generation)
    else if (message.op === 'delete' && this.tiers.local) {
      const local = this.tiers.local
      const drop = (generation: number) => {
        for (const key of message.keys) local.delete(entryKey(message.ns, generation, key))
      }
      // Known generation (the usual case): dropped before the event below reports it.
      const generation = this.markers.generation(message.ns)
      if (typeof generation === 'number') drop(generation)
      else void generation.then(drop)
    }
    const kind = message.op === 'delete' ? 'key' : message.op === 'tags' ? 'tags' : 'namespace'
    this.events.emit('invalidate', { namespace: message.ns, kind, ...(message.op === 'delete' ? { keys: message.keys } : {}), ...(message.op === 'tags' ? { tags: message.tags } : {}), remote: true })
  }

  /** After a bus outage messages may have been lost: forget L1, re-read every marker. */
  resync(): void {
    this.tiers.local?.clear()
    this.markers.expireAll()
  }

  async publish(message: BusMessage): Promise<void> {
    if (this.bus && this.tiers.remote) await this.tiers.remote.publish(BUS_CHANNEL, this.bus.serialize(message))
  }
}

const entryKey = (ns: string, generation: number, key: string) => `c:${ns}:${generation}:${key}`
const leaseKey = (full: string) => `c:#lease:${full}`

/**
 * A two-tier cache: L1 in this process, L2 in a store shared by every instance. See the README's
 * Cache section and {@link CacheOptions} for defaults. Values from L1 are the objects that were
 * cached, shared by every caller: treat them as immutable.
 */
export class Cache {
  readonly namespace: string
  readonly events: TypedEmitter<CacheEvents>
  readonly #core: CacheCore
  readonly #root: boolean

  constructor(options: CacheOptions, core?: CacheCore, namespace?: string) {
    this.#core = core ?? new CacheCore(parseCacheOptions(options))
    this.#root = core === undefined
    this.namespace = namespace ?? this.#core.options.namespace
    this.events = this.#core.events
  }

  /** Largest serialized entry this cache takes (`maxEntryBytes`). */
  get maxEntryBytes(): number {
    return this.#core.options.maxEntryBytes
  }

  /** Longest `ttl` a call may give: 30 days less the cache's `grace`, which every entry also lives. */
  get maxTtlMs(): number {
    return DEFAULTS.cache.maxTtlMs - this.#core.options.grace
  }

  /** Resolves once the invalidation bus is subscribed (immediately without one). Never rejects. */
  ready(): Promise<void> {
    return this.#core.ready
  }

  /**
   * A view of the same cache under another namespace (same tiers, stats and events), with its own
   * generation: `clearNamespace` on it clears only it. Namespaces are not nested.
   */
  namespaced(name: string): Cache {
    if (typeof name !== 'string' || !NAMESPACE.test(name)) throw new InvalidOptionError('namespace', name, 'letters, digits, _ . - / (1 to 128)')
    // A view holds nothing but its name: one per call costs less than a registry that request-chosen
    // namespace names (the gateway's header) could grow without bound.
    return new Cache({}, this.#core, name)
  }

  /** The fresh value under `key`, or undefined (a miss; also when L2 fails). */
  async get<T = unknown>(key: string, options?: CacheGetOptions): Promise<T | undefined> {
    const full = this.#full(key)
    const found = await this.#core.tiers.read(this.namespace, typeof full === 'string' ? full : await full, options?.l1 !== false)
    if (found && this.#core.clock.now() < found.entry.freshUntil) return this.#hit(key, found).value as T
    this.#core.counters.misses++
    this.#core.events.emit('miss', { key, namespace: this.namespace })
    return undefined
  }

  /** Stores `value` (JSON by default; `undefined` is refused). Throws only for the value itself. */
  async set(key: string, value: unknown, options?: CacheSetOptions): Promise<void> {
    if (value === undefined) throw new InvalidOptionError('value', value, 'a value other than undefined (store null instead)')
    const call = resolveCallOptions(this.#core.options, options)
    await this.#write(key, await this.#full(key), value, call, this.#core.markers.createdAt())
  }

  /** The value under `key`, or the loader's result (cached), with one loader run per key at a time. */
  async getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    return (await this.getOrSetEntry(key, loader, options)).value
  }

  /** {@link getOrSet} that also says whether it was a hit, stale, a miss or coalesced, and the age. */
  async getOrSetEntry<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<CacheResult<T>> {
    if (typeof loader !== 'function') throw new InvalidOptionError('loader', loader, 'a function returning the value')
    const call = resolveCallOptions(this.#core.options, options)
    const known = this.#full(key)
    const core = this.#core
    const local = typeof known === 'string' ? core.tiers.freshLocal(known, call.l1) : undefined
    if (local) return this.#hit(key, local) as CacheResult<T>
    const full = await known
    const found = await core.tiers.read(this.namespace, full, call.l1)
    if (found && core.clock.now() < found.entry.freshUntil) return this.#hit(key, found) as CacheResult<T>
    const running = core.flights.get<CacheResult<T>>(full)
    if (!found) {
      core.counters.misses++
      core.events.emit('miss', { key, namespace: this.namespace })
    }
    if (running) this.#coalesced(key)
    const flight = running ?? core.flights.start(full, () => this.#load(key, full, loader, call, found?.entry.value as T | undefined))
    const staleSince = found && core.clock.toLocal(found.entry.createdAt)
    const result = await loadWithTimeouts(flight, found, staleSince, key, call, (reason) => {
      core.counters.stale++
      core.events.emit('stale', { key, namespace: this.namespace, reason })
    })
    return running && result.status === 'miss' ? { ...result, status: 'coalesced' } : result
  }

  /** Removes `key` from both tiers and from every instance's L1. Throws when L2 cannot be reached. */
  async delete(key: string): Promise<void> {
    const full = await this.#full(key)
    this.#core.tiers.local?.delete(full)
    this.#core.events.emit('delete', { key, namespace: this.namespace })
    await this.#core.tiers.remote?.required('delete', (store) => store.delete(full))
    await this.#core.publish({ op: 'delete', ns: this.namespace, keys: [key] })
  }

  /** Makes every entry tagged with one of `tags` (created before now) unreachable, everywhere. */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    checkTags(tags)
    const at = await this.#core.markers.invalidateTags(this.namespace, tags)
    this.#core.events.emit('invalidate', { namespace: this.namespace, kind: 'tags', tags: [...tags], remote: false })
    await this.#core.publish({ op: 'tags', ns: this.namespace, tags: [...tags], at })
  }

  /** Makes every entry of this namespace unreachable at once (O(1): one counter); they expire by TTL. */
  async clearNamespace(): Promise<void> {
    const generation = await this.#core.markers.bumpGeneration(this.namespace)
    this.#core.events.emit('invalidate', { namespace: this.namespace, kind: 'namespace', remote: false })
    await this.#core.publish({ op: 'clear', ns: this.namespace, generation })
  }

  stats(): CacheStats {
    const { counters: c, tiers, bus } = this.#core
    return {
      hits: { l1: c.l1Hits, l2: c.l2Hits },
      misses: c.misses,
      stale: c.stale,
      loaderCalls: c.loaderCalls,
      loaderErrors: c.loaderErrors,
      coalesced: c.coalesced,
      l2Errors: c.l2Errors,
      l2WriteFailures: c.l2WriteFailures,
      oversize: c.oversize,
      l1: { entries: tiers.local?.entries ?? 0, bytes: tiers.local?.bytes ?? 0 },
      circuit: tiers.remote?.circuit ?? 'none',
      bus: bus ? (bus.healthy ? 'healthy' : 'down') : 'none',
    }
  }

  /** Stops the bus and drops L1. The store is the caller's: close it after the cache. A namespaced view closes nothing. */
  async close(): Promise<void> {
    const core = this.#core
    if (!this.#root || core.closed) return
    core.closed = true
    await core.ready
    await core.bus?.close()
    core.tiers.remote?.close()
    core.tiers.local?.clear()
    core.events.removeAllListeners()
  }

  #full(key: string): string | Promise<string> {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidOptionError('key', key, 'a non-empty string')
    const generation = this.#core.markers.generation(this.namespace)
    return typeof generation === 'number' ? entryKey(this.namespace, generation, key) : generation.then((g) => entryKey(this.namespace, g, key))
  }

  #hit(key: string, found: Found): CacheResult<unknown> {
    const counters = this.#core.counters
    if (found.tier === 'l1') counters.l1Hits++
    else counters.l2Hits++
    this.#core.events.emit('hit', { key, namespace: this.namespace, tier: found.tier })
    return { value: found.entry.value, status: 'hit', tier: found.tier, createdAt: this.#core.clock.toLocal(found.entry.createdAt) }
  }

  async #write(key: string, full: string, value: unknown, call: CallOptions, createdAt: number): Promise<void> {
    const { bytes, stored } = await this.#core.tiers.write(full, value, call, createdAt)
    if (!stored) this.#core.counters.l2WriteFailures++
    this.#core.events.emit('set', { key, namespace: this.namespace, bytes })
  }

  /** Runs the loader once for this process (and, with a lease, for every instance) and caches its result. */
  async #load<T>(key: string, full: string, loader: Loader<T>, call: CallOptions, stale: T | undefined): Promise<CacheResult<T>> {
    const core = this.#core
    const run = async (lease?: LeaderLease): Promise<CacheResult<T>> => {
      const createdAt = core.markers.createdAt(lease?.storeTime)
      let skip = false
      core.counters.loaderCalls++
      let value: T
      try {
        value = await loader({
          key,
          stale,
          skip: () => {
            skip = true
            lease?.giveUp()
          },
        })
      } catch (err) {
        core.counters.loaderErrors++
        core.events.emit('loader-error', { key, namespace: this.namespace, error: err as Error })
        throw err
      }
      if (!skip && value !== undefined) {
        try {
          await this.#write(key, full, value, call, createdAt)
        } catch (err) {
          // The loader's work is not thrown away for a value the cache cannot hold: the caller gets it.
          if ((err as TollgateError).code === 'E_VALUE_TOO_LARGE') core.counters.oversize++
          core.events.emit('error', { operation: 'set', error: err as Error })
        }
      }
      return { value, status: 'miss', createdAt: core.clock.toLocal(createdAt) }
    }
    const { remote } = core.tiers
    const lease = core.options.lease
    if (!remote || lease === false) return run(undefined)
    const c = DEFAULTS.cache
    const lookup = async (): Promise<CacheResult<T> | undefined> => {
      const found = await core.tiers.read(this.namespace, full, call.l1)
      if (!found || core.clock.now() >= found.entry.freshUntil) return undefined
      return { value: found.entry.value as T, status: 'coalesced', tier: found.tier, createdAt: core.clock.toLocal(found.entry.createdAt) }
    }
    const options = { ttlMs: lease.ttl, waitMs: lease.wait, pollMinMs: c.leasePollMinMs, pollMaxMs: c.leasePollMaxMs, now: () => performance.now() }
    // The lease's waits are real time even under a test clock: they pace actual polling.
    return withLease(remote, leaseKey(full), core.id, options, lookup, run, () => this.#coalesced(key))
  }

  #coalesced(key: string): void {
    this.#core.counters.coalesced++
    this.#core.events.emit('coalesced', { key, namespace: this.namespace })
  }
}

/** Creates a two-tier cache; see {@link CacheOptions}. */
export function createCache(options: CacheOptions = {}): Cache {
  return new Cache(options)
}
