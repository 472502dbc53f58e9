/**
 * One entry of a {@link ByteLru}: its key, its bytes, its expiry and its place in the recency list,
 * on the entry itself. A value kept as is (a rate limiter's state) extends it, so that holding the
 * value is holding the entry: a hot path can mark it used, or see it was dropped, without a lookup.
 */
export abstract class Slot {
  /** When the entry is gone, in ms of the store's clock: still there at exactly this time (as on Redis), gone after. */
  expireAtMs = 0
  /** The key it is stored under, while stored. */
  key = ''
  /** The bytes it is counted for, while stored. */
  size = 0
  /** The list it is in: undefined once evicted, deleted or replaced. */
  owner: ByteLru | undefined = undefined
  older: Slot | undefined = undefined
  newer: Slot | undefined = undefined
}

/**
 * A map of slots in least-recently-used order, bounded by bytes: storing past `maxBytes` drops the
 * least recently used slots until the total fits again. Reading does not count as use; {@link touch}
 * does. Expiry is the caller's: a slot past `expireAtMs` stays until deleted, evicted or purged.
 */
export class ByteLru {
  readonly #slots = new Map<string, Slot>()
  /** Least recently used first; evicted from this end. */
  #oldest: Slot | undefined = undefined
  #newest: Slot | undefined = undefined
  #bytes = 0

  constructor(readonly maxBytes: number) {}

  /** Bytes of the slots held, by the sizes they were stored with. */
  get bytes(): number {
    return this.#bytes
  }

  get size(): number {
    return this.#slots.size
  }

  get(key: string): Slot | undefined {
    return this.#slots.get(key)
  }

  /** Marks a stored slot as just used: the last to be evicted. */
  touch(slot: Slot): void {
    if (slot === this.#newest) return
    this.#unlink(slot)
    this.#append(slot)
  }

  /**
   * Stores `slot` under `key` as the most recently used, replacing (and dropping) whatever was there,
   * then evicts the least recently used until `maxBytes` holds. A slot larger than `maxBytes` alone is
   * not stored, and the key is left empty, as lru-cache does.
   */
  set(key: string, slot: Slot, size: number): void {
    const old = this.#slots.get(key)
    if (old === slot) {
      this.touch(slot)
      return
    }
    if (old !== undefined) this.#drop(old)
    if (slot.owner === this) this.#drop(slot)
    if (size > this.maxBytes) return
    slot.key = key
    slot.size = size
    slot.owner = this
    this.#slots.set(key, slot)
    this.#append(slot)
    this.#bytes += size
    while (this.#bytes > this.maxBytes) this.#drop(this.#oldest as Slot)
  }

  delete(key: string): boolean {
    const slot = this.#slots.get(key)
    if (slot === undefined) return false
    this.#drop(slot)
    return true
  }

  /** Drops every slot `dead` says is: a full store's sweep of expired entries. */
  purge(dead: (slot: Slot) => boolean): void {
    for (let slot = this.#oldest; slot !== undefined; ) {
      const next = slot.newer
      if (dead(slot)) this.#drop(slot)
      slot = next
    }
  }

  clear(): void {
    this.purge(() => true)
  }

  #drop(slot: Slot): void {
    this.#slots.delete(slot.key)
    this.#unlink(slot)
    this.#bytes -= slot.size
    slot.owner = undefined
  }

  #unlink(slot: Slot): void {
    if (slot.older === undefined) this.#oldest = slot.newer
    else slot.older.newer = slot.newer
    if (slot.newer === undefined) this.#newest = slot.older
    else slot.newer.older = slot.older
    slot.older = undefined
    slot.newer = undefined
  }

  #append(slot: Slot): void {
    slot.older = this.#newest
    if (this.#newest === undefined) this.#oldest = slot
    else this.#newest.newer = slot
    this.#newest = slot
  }
}
