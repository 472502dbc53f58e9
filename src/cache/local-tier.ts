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

  set(key: string, entry: LocalEntry): void {
    this.#lru.set(key, entry)
  }

  delete(key: string): void {
    this.#lru.delete(key)
  }

  clear(): void {
    this.#lru.clear()
  }
}
