import { EventEmitter } from 'node:events'
import { LRUCache } from 'lru-cache'
import { type Clock, systemClock } from '../core/clock.js'
import { StoreClosedError, StoreCommandError, StoreFullError } from '../core/errors.js'
import { TypedEmitter } from '../core/events.js'
import { INCREMENT } from './increment.js'
import { checkValueSize, storageKey } from './keys.js'
import type { MemoryScriptContext, SetOptions, Store, StoreCapabilities, StoreEvents, StoreScript } from './types.js'

export interface MemoryStoreOptions {
  /** Budget for keys and values; least-recently-used entries are evicted beyond it. Default 64 MiB. */
  maxBytes: number
  keyPrefix: string
  maxValueBytes: number
  maxKeyBytes: number
  clock?: Clock
  /**
   * false: never evict; a write that would go past `maxBytes` (after expired entries are purged) fails
   * with `E_STORE_FULL` instead. For state that must not silently vanish, like rate-limit counters.
   * Default true (least-recently-used entries make room).
   */
  evict?: boolean
}

/** Room a non-evicting store keeps beyond `maxBytes` for the write that crosses it: no single write is larger. */
const NO_EVICT_HEADROOM = 2 * 1024 * 1024

/**
 * Estimated bytes an entry costs beyond its key and value: the LRU's slot arrays, the Map entry and
 * the TTL bookkeeping. Measured at about 150 bytes on Node 20 (bench/memory-footprint); rounded up so
 * that `maxBytes` is a ceiling, not a hope.
 */
const ENTRY_OVERHEAD = 160

/**
 * A value a capability keeps in the memory store and changes in place (a rate limiter's counters):
 * stored without a copy, its bytes counted once, and expired by `expireAtMs` rather than by the LRU's
 * per-entry TTL, whose bookkeeping on every write would cost more than the decision itself.
 */
export abstract class LocalEntry {
  /** When the entry is gone, in ms of the store's clock: still there at exactly this time (as on Redis), gone after. */
  expireAtMs = 0
  /** Estimated bytes of the value, counted against `maxBytes`; fixed for the entry's life. */
  abstract readonly bytes: number
}

const CAPABILITIES: StoreCapabilities = { scripts: true, pubsub: true, ttlRead: true, shared: false, hashSlots: false }

/** In-process store: nothing to start, nothing shared. The embedded default. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const
  readonly name = 'memory://'
  readonly capabilities = CAPABILITIES
  readonly keyPrefix: string
  readonly events = new TypedEmitter<StoreEvents>()
  readonly #lru: LRUCache<string, NonNullable<unknown>>
  readonly #bus = new EventEmitter()
  readonly #clock: Clock
  readonly #maxValueBytes: number
  readonly #maxKeyBytes: number
  readonly #script: MemoryScriptContext
  readonly #maxBytes: number
  readonly #evict: boolean
  #closed = false

  constructor(options: MemoryStoreOptions) {
    this.keyPrefix = options.keyPrefix
    this.#clock = options.clock ?? systemClock
    this.#maxValueBytes = options.maxValueBytes
    this.#maxKeyBytes = options.maxKeyBytes
    this.#bus.setMaxListeners(0)
    this.#maxBytes = options.maxBytes
    this.#evict = options.evict !== false
    this.#lru = new LRUCache({
      // Without eviction the LRU's own bound sits above maxBytes: #room() refuses writes before it is reached.
      maxSize: this.#evict ? options.maxBytes : options.maxBytes + NO_EVICT_HEADROOM + options.maxValueBytes,
      sizeCalculation: (value, key) => ENTRY_OVERHEAD + key.length * 2 + valueBytes(value),
      // ttlResolution 0: an injected clock must be read on every access for TTL tests to be exact;
      // the default 1 ms debounce exists to save performance.now() calls, which a Date-based clock
      // doesn't need saving from.
      ttlResolution: 0,
      perf: { now: () => this.#clock.now() },
    })
    const lru = this.#lru
    this.#script = {
      now: () => this.#clock.now(),
      get: (key) => this.#live(key),
      set: (key, value, ttlMs) => {
        lru.set(key, value as NonNullable<unknown>, ttlMs ? { ttl: ttlMs } : {})
      },
      delete: (key) => {
        lru.delete(key)
      },
      pttl: (key) => this.#pttl(key),
    }
  }

  /** Approximate bytes held, as counted against `maxBytes`. */
  get bytes(): number {
    return this.#lru.calculatedSize
  }

  /** Number of live and not-yet-purged entries. */
  get size(): number {
    return this.#lru.size
  }

  async get(key: string): Promise<Buffer | null> {
    this.#open()
    const value = this.#live(this.#key(key))
    if (value === undefined) return null
    if (Buffer.isBuffer(value)) return value
    if (typeof value === 'number') return Buffer.from(String(value))
    throw new StoreCommandError(this.name, 'get', { cause: new Error(`key "${key}" holds a script state, not a value`) })
  }

  async getMany(keys: string[]): Promise<Array<Buffer | null>> {
    return Promise.all(keys.map((key) => this.get(key)))
  }

  async set(key: string, value: Buffer | string, options: SetOptions = {}): Promise<boolean> {
    this.#open()
    checkValueSize(value, this.#maxValueBytes)
    // A copy: the caller may reuse its Buffer, and a stored value must not change under the store.
    const bytes = Buffer.isBuffer(value) ? Buffer.from(value) : Buffer.from(value, 'utf8')
    const full = this.#key(key)
    if (options.ifNotExists && this.#live(full, true) !== undefined) return false
    this.#room()
    this.#lru.set(full, bytes, options.ttlMs ? { ttl: options.ttlMs } : {})
    return true
  }

  async delete(...keys: string[]): Promise<number> {
    this.#open()
    let count = 0
    for (const key of keys) if (this.#lru.delete(this.#key(key))) count++
    return count
  }

  async increment(key: string, by = 1, options: { ttlMs?: number } = {}): Promise<number> {
    return this.runScript(INCREMENT, [key], [by, options.ttlMs ?? ''])
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    this.#open()
    const full = this.#key(key)
    const value = this.#live(full)
    if (value === undefined) return false
    if (value instanceof LocalEntry) value.expireAtMs = this.#clock.now() + ttlMs
    else this.#lru.set(full, value, { ttl: ttlMs })
    return true
  }

  async pttl(key: string): Promise<number> {
    this.#open()
    return this.#pttl(this.#key(key))
  }

  async runScript<R>(script: StoreScript<R>, keys: string[], args: Array<string | number>): Promise<R> {
    this.#open()
    this.#room()
    try {
      return script.memory(
        this.#script,
        keys.map((key) => this.#key(key)),
        args.map(String),
      )
    } catch (err) {
      throw new StoreCommandError(this.name, `script ${script.name}`, { cause: err })
    }
  }

  /** Milliseconds since the epoch by the store's clock: the time local entries expire by. */
  now(): number {
    return this.#clock.now()
  }

  /**
   * The in-process shortcut of {@link runScript} for a capability that works on its own
   * {@link LocalEntry} values synchronously: throws what a script call would before touching any
   * entry (`E_STORE_CLOSED`, or `E_STORE_FULL` from a full store that does not evict).
   */
  openLocal(): void {
    this.#open()
    this.#room()
  }

  /** The key the store files `key` under (its prefix, or a hash for a long key), for {@link getLocal} and {@link setLocal}. */
  localKey(key: string): string {
    return this.#key(key)
  }

  /**
   * The value under a key from {@link localKey}, as stored: a local entry past its expiry included,
   * which the caller may empty and reuse in place, since it decides like none.
   */
  getLocal(full: string): unknown {
    return this.#lru.get(full)
  }

  /** Stores `entry` under a key from {@link localKey}, replacing whatever was there; it expires by its own `expireAtMs`. */
  setLocal(full: string, entry: LocalEntry): void {
    this.#lru.set(full, entry)
  }

  async publish(channel: string, message: string): Promise<void> {
    this.#open()
    const name = this.keyPrefix + channel
    // Delivered on a later tick, like a network bus: a publisher never runs subscribers synchronously.
    setImmediate(() => this.#bus.emit(name, message))
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    this.#open()
    const name = this.keyPrefix + channel
    this.#bus.on(name, listener)
    return async () => {
      this.#bus.off(name, listener)
    }
  }

  async ping(): Promise<number> {
    this.#open()
    return 0
  }

  /** Its eviction behaviour, in Redis' INFO terms: `noeviction` when `evict` is false. */
  async serverInfo(): Promise<Record<string, string>> {
    return { maxmemory: String(this.#maxBytes), maxmemory_policy: this.#evict ? 'allkeys-lru' : 'noeviction', used_memory: String(this.#lru.calculatedSize) }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#lru.clear()
    this.#bus.removeAllListeners()
  }

  #pttl(full: string): number {
    const value = this.#live(full, true)
    if (value === undefined) return -2
    if (value instanceof LocalEntry) return Math.max(0, Math.ceil(value.expireAtMs - this.#clock.now()))
    const remaining = this.#lru.getRemainingTTL(full)
    return Number.isFinite(remaining) ? Math.max(0, Math.ceil(remaining)) : -1
  }

  /** A non-evicting store refuses a write once full; expired entries are dropped first to make room. */
  #room(): void {
    if (this.#evict || this.#lru.calculatedSize <= this.#maxBytes) return
    this.#lru.purgeStale()
    const now = this.#clock.now()
    const expired: string[] = []
    for (const [key, value] of this.#lru.entries()) if (value instanceof LocalEntry && value.expireAtMs < now) expired.push(key)
    for (const key of expired) this.#lru.delete(key)
    if (this.#lru.calculatedSize > this.#maxBytes) throw new StoreFullError(this.name, this.#maxBytes)
  }

  /**
   * The value under `full`, or undefined when there is none or it expired: by the LRU's TTL, or a
   * local entry past its own expiry. `peek`, as the LRU's, neither moves the entry in the LRU order
   * nor drops an expired one (a read does).
   */
  #live(full: string, peek = false): NonNullable<unknown> | undefined {
    const value = peek ? this.#lru.peek(full) : this.#lru.get(full)
    if (!(value instanceof LocalEntry) || value.expireAtMs >= this.#clock.now()) return value
    if (!peek) this.#lru.delete(full)
    return undefined
  }

  #key(key: string): string {
    return storageKey(this.keyPrefix, key, this.#maxKeyBytes)
  }

  #open(): void {
    if (this.#closed) throw new StoreClosedError(this.name)
  }
}

function valueBytes(value: unknown): number {
  if (Buffer.isBuffer(value)) return value.byteLength + 80
  if (value instanceof LocalEntry) return value.bytes
  if (typeof value === 'number') return 8
  if (typeof value === 'string') return value.length * 2
  if (Array.isArray(value)) return 16 + value.length * 16
  return 64
}
