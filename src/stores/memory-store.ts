import { EventEmitter } from 'node:events'
import { type Clock, systemClock } from '../core/clock.js'
import { StoreClosedError, StoreCommandError, StoreFullError } from '../core/errors.js'
import { TypedEmitter } from '../core/events.js'
import { ByteLru, Slot } from './byte-lru.js'
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
 * Estimated bytes an entry costs beyond its key and value: the slot's fields and links, and the Map
 * entry. Measured on Node 20 over 132,000 and 200,000 entries: a rate limiter's state uses what it is
 * counted for give or take 15 bytes (over it just after the Map's table doubles, by less than with
 * lru-cache underneath); a small Buffer value uses 30-50 bytes less than counted.
 */
const ENTRY_OVERHEAD = 160

/**
 * A value a capability keeps in the memory store and changes in place (a rate limiter's counters):
 * stored without a copy, its bytes counted once, and its own slot in the store's LRU, so that whoever
 * holds it can mark it used ({@link MemoryStore.reuseLocal}) without looking its key up again.
 */
export abstract class LocalEntry extends Slot {
  /** Estimated bytes of the value, counted against `maxBytes`; fixed for the entry's life. */
  abstract readonly bytes: number
}

/** Any other value (a Buffer, a script's number, string or array), in a slot of its own. */
class ValueSlot extends Slot {
  constructor(
    readonly value: NonNullable<unknown>,
    expireAtMs: number,
  ) {
    super()
    this.expireAtMs = expireAtMs
  }
}

const CAPABILITIES: StoreCapabilities = { scripts: true, pubsub: true, ttlRead: true, shared: false, hashSlots: false }

/** In-process store: nothing to start, nothing shared. The embedded default. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const
  readonly name = 'memory://'
  readonly capabilities = CAPABILITIES
  readonly keyPrefix: string
  readonly events = new TypedEmitter<StoreEvents>()
  readonly #lru: ByteLru
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
    // Without eviction the LRU's own bound sits above maxBytes: #room() refuses writes before it is reached.
    this.#lru = new ByteLru(this.#evict ? options.maxBytes : options.maxBytes + NO_EVICT_HEADROOM + options.maxValueBytes)
    this.#script = {
      now: () => this.#clock.now(),
      get: (key) => valueOf(this.#live(key)),
      set: (key, value, ttlMs) => this.#setValue(key, value as NonNullable<unknown>, ttlMs),
      delete: (key) => {
        this.#lru.delete(key)
      },
      pttl: (key) => this.#pttl(key),
    }
  }

  /** Approximate bytes held, as counted against `maxBytes`. */
  get bytes(): number {
    return this.#lru.bytes
  }

  /** Number of live and not-yet-purged entries. */
  get size(): number {
    return this.#lru.size
  }

  async get(key: string): Promise<Buffer | null> {
    this.#open()
    const value = valueOf(this.#live(this.#key(key)))
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
    this.#setValue(full, bytes, options.ttlMs)
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
    const slot = this.#live(full)
    if (slot === undefined) return false
    slot.expireAtMs = this.#clock.now() + ttlMs
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
   * The local entry under a key from {@link localKey}, as stored (a value of another kind is none to
   * it), marked as just used: one past its expiry included, which the caller may empty and reuse in
   * place, since it decides like none.
   */
  getLocal(full: string): LocalEntry | undefined {
    const slot = this.#lru.get(full)
    if (!(slot instanceof LocalEntry)) return undefined
    this.#lru.touch(slot)
    return slot
  }

  /**
   * Whether `entry`, got from {@link getLocal} or given to {@link setLocal}, is still stored (not
   * evicted, deleted or replaced since); if so it is marked as just used, as {@link getLocal} would.
   */
  reuseLocal(entry: LocalEntry): boolean {
    if (entry.owner !== this.#lru) return false
    this.#lru.touch(entry)
    return true
  }

  /** Stores `entry` under a key from {@link localKey}, replacing whatever was there; it expires by its own `expireAtMs`. */
  setLocal(full: string, entry: LocalEntry): void {
    this.#lru.set(full, entry, ENTRY_OVERHEAD + full.length * 2 + entry.bytes)
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
    return { maxmemory: String(this.#maxBytes), maxmemory_policy: this.#evict ? 'allkeys-lru' : 'noeviction', used_memory: String(this.#lru.bytes) }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#lru.clear()
    this.#bus.removeAllListeners()
  }

  #pttl(full: string): number {
    const slot = this.#live(full, true)
    if (slot === undefined) return -2
    return slot.expireAtMs === Number.POSITIVE_INFINITY ? -1 : Math.max(0, Math.ceil(slot.expireAtMs - this.#clock.now()))
  }

  /** A non-evicting store refuses a write once full; expired entries are dropped first to make room. */
  #room(): void {
    if (this.#evict || this.#lru.bytes <= this.#maxBytes) return
    const now = this.#clock.now()
    this.#lru.purge((slot) => slot.expireAtMs < now)
    if (this.#lru.bytes > this.#maxBytes) throw new StoreFullError(this.name, this.#maxBytes)
  }

  /** Stores a value that is not a local entry, with a TTL (ms) or none; any write replaces the TTL, as Redis' SET. */
  #setValue(full: string, value: NonNullable<unknown>, ttlMs: number | undefined): void {
    const slot = new ValueSlot(value, ttlMs ? this.#clock.now() + ttlMs : Number.POSITIVE_INFINITY)
    this.#lru.set(full, slot, ENTRY_OVERHEAD + full.length * 2 + valueBytes(value))
  }

  /**
   * The slot under `full`, or undefined when there is none or it expired. `peek` neither moves the
   * entry in the LRU order nor drops an expired one (a read does). The clock is read only for an
   * entry that expires: a plain cache read need not pay for it.
   */
  #live(full: string, peek = false): Slot | undefined {
    const slot = this.#lru.get(full)
    if (slot === undefined) return undefined
    if (slot.expireAtMs !== Number.POSITIVE_INFINITY && slot.expireAtMs < this.#clock.now()) {
      if (!peek) this.#lru.delete(full)
      return undefined
    }
    if (!peek) this.#lru.touch(slot)
    return slot
  }

  #key(key: string): string {
    return storageKey(this.keyPrefix, key, this.#maxKeyBytes)
  }

  #open(): void {
    if (this.#closed) throw new StoreClosedError(this.name)
  }
}

/** What a slot holds: a value slot's value, or the local entry itself. */
function valueOf(slot: Slot | undefined): NonNullable<unknown> | undefined {
  return slot instanceof ValueSlot ? slot.value : slot
}

function valueBytes(value: unknown): number {
  if (Buffer.isBuffer(value)) return value.byteLength + 80
  if (value instanceof LocalEntry) return value.bytes
  if (typeof value === 'number') return 8
  if (typeof value === 'string') return value.length * 2
  if (Array.isArray(value)) return 16 + value.length * 16
  return 64
}
