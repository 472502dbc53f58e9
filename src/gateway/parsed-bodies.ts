import { LRUCache } from 'lru-cache'
import type { CallKind } from '../calls/types.js'

/** What was worked out once for a body whose exact text comes again. */
export interface BodyMemo {
  /** The route kind it passed validation for, if any (a body that failed is checked again: it fails again). */
  validatedAs: CallKind | undefined
  /** Its cache keys by route, model and partition (few: one body is one request). */
  readonly keys: Map<string, string>
}

/**
 * Bytes a parsed body is counted at beyond its text: each object or array about 64 (measured on Node
 * 20: a body of 43,000 `{}` is 2.76 MB parsed from 129 KB of text) and each value or key 16, so that
 * a body of many small objects cannot hold ten times what `maxBytes` says.
 */
const CONTAINER_BYTES = 64
const VALUE_BYTES = 16

/**
 * Request bodies of LLM routes by their exact text, parsed, frozen and checked once. A cache hit is
 * mostly a body coming again byte for byte (a retry, a popular prompt, a test suite); parsing it,
 * walking it for its depth and hashing its canonical form were a quarter of a hit's CPU, and the
 * answer cannot differ for the same bytes. Bodies are frozen (at every depth) because every request
 * with those bytes shares the object: nothing may write to it.
 *
 * Entries are kept per tenant and text: another tenant sending the same bytes parses them itself
 * and keeps its own entry, so how fast a body is answered says nothing about what other tenants send
 * (keyed by text alone, their entry would replace the first tenant's, and the first tenant's next
 * request would be slower).
 */
export class ParsedBodies {
  readonly #byText: LRUCache<string, object>
  readonly #memos = new WeakMap<object, BodyMemo>()

  /**
   * @param maxBytes Memory for the bodies kept: their text (twice its length, a string's size) and an
   *   estimate of their parsed objects. A body over a 32nd of it is never kept.
   */
  constructor(maxBytes: number) {
    this.#byText = new LRUCache<string, object>({ maxSize: maxBytes, maxEntrySize: Math.floor(maxBytes / 32) })
  }

  /** The body parsed from exactly this text for this tenant, if it is still kept. */
  get(text: string, tenant: string): object | undefined {
    return this.#byText.get(entryKey(text, tenant))
  }

  /** Keeps `body`, parsed from `text`, for the tenant's next identical request; freezes it. */
  remember(text: string, tenant: string, body: object): void {
    const key = entryKey(text, tenant)
    const max = this.#byText.maxEntrySize
    if (key.length * 3 > max) return
    const size = key.length * 3 + freezeAndMeasure(body, max)
    if (size > max) return
    this.#memos.set(body, { validatedAs: undefined, keys: new Map() })
    this.#byText.set(key, body, { size })
  }

  /** The memo of a body this store handed out; undefined for any other object. */
  memoOf(body: unknown): BodyMemo | undefined {
    return body !== null && typeof body === 'object' ? this.#memos.get(body) : undefined
  }
}

/** Tenant names are letters, digits, `_ . -`: the newline ends one. */
function entryKey(text: string, tenant: string): string {
  return `${tenant}\n${text}`
}

/**
 * Freezes every object and array in a parsed JSON value and estimates what its parsed objects hold
 * in memory, stopping the estimate once it passes `max`. Iterative: it runs before the depth check.
 */
function freezeAndMeasure(root: object, max: number): number {
  let bytes = 0
  const pending: object[] = [root]
  for (let value = pending.pop(); value !== undefined; value = pending.pop()) {
    Object.freeze(value)
    const isArray = Array.isArray(value)
    bytes += CONTAINER_BYTES
    for (const child of Object.values(value)) {
      bytes += isArray ? VALUE_BYTES : 2 * VALUE_BYTES
      if (child !== null && typeof child === 'object') pending.push(child as object)
    }
    if (bytes > max) return bytes
  }
  return bytes
}
