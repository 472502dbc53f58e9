import { LRUCache } from 'lru-cache'
import type { LocalEntry } from './entry.js'

/**
 * Bytes an L1 slot costs beyond the serialized value and the key: the entry object, its tag array and
 * the LRU's slot bookkeeping. A deliberate over-estimate so `maxBytes` is a ceiling.
 */
const ENTRY_OVERHEAD = 200

/**
 * L1: live values in this process, least-recently-used out beyond `maxBytes`. Expiry is checked by
 * the cache against the entry's own times rather than by lru-cache's TTL machinery, which would add a
 * timer-free but per-read clock read and bookkeeping of its own to the hottest path there is.
 */
export class LocalTier {
  readonly #lru: LRUCache<string, LocalEntry>
  #epoch = 0

  constructor(maxBytes: number) {
    this.#lru = new LRUCache<string, LocalEntry>({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) => ENTRY_OVERHEAD + key.length * 2 + entry.bytes,
    })
  }

  get entries(): number {
    return this.#lru.size
  }

  get bytes(): number {
    return this.#lru.calculatedSize
  }

  /** The entry if present and not past its L1 lifetime (an expired one is dropped). */
  get(key: string, now: number): LocalEntry | undefined {
    const entry = this.#lru.get(key)
    if (entry === undefined) return undefined
    if (now < entry.localUntil) return entry
    this.#lru.delete(key)
    return undefined
  }

  /**
   * Bumped by every delete and clear. A read from L2 that started before one may carry the value just
   * invalidated (its reply can arrive after the bus message that deleted it): it must not put that
   * value back, so it fills L1 only if the epoch it started in is still the current one.
   */
  get epoch(): number {
    return this.#epoch
  }

  set(key: string, entry: LocalEntry): void {
    this.#lru.set(key, entry)
  }

  delete(key: string): void {
    this.#epoch++
    this.#lru.delete(key)
  }

  clear(): void {
    this.#epoch++
    this.#lru.clear()
  }
}
