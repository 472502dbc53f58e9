import { LRUCache } from 'lru-cache'
import type { CallKind } from '../calls/types.js'

/** What was worked out once for a body whose exact text comes again. */
export interface BodyMemo {
  /** The route kind it passed validation for, if any (a body that failed is checked again: it fails again). */
  validatedAs: CallKind | undefined
  /** Its cache keys by route, model and partition (few: one body is one request). */
  readonly keys: Map<string, string>
}

interface Entry {
  tenant: string
  body: object
}

/**
 * Request bodies of LLM routes by their exact text, parsed, frozen and checked once. A cache hit is
 * mostly a body coming again byte for byte (a retry, a popular prompt, a test suite); parsing it,
 * walking it for its depth and hashing its canonical form were a quarter of a hit's CPU, and the
 * answer cannot differ for the same bytes. Bodies are frozen (at every depth) because every request
 * with those bytes shares the object: nothing may write to it.
 *
 * An entry serves only the tenant that sent it: another tenant sending the same bytes parses them
 * itself, so how fast a body is answered says nothing about what other tenants send.
 */
export class ParsedBodies {
  readonly #byText: LRUCache<string, Entry>
  readonly #memos = new WeakMap<object, BodyMemo>()

  /**
   * @param maxBytes Text kept, in UTF-16 code units ×2 (a string's size in memory); the parsed
   *   objects take about as much again. Bodies over a 32nd of it are never kept.
   */
  constructor(maxBytes: number) {
    this.#byText = new LRUCache<string, Entry>({ maxSize: maxBytes, maxEntrySize: Math.floor(maxBytes / 32), sizeCalculation: (_entry, text) => text.length * 2 || 1 })
  }

  /** The body parsed from exactly this text for this tenant, if it is still kept. */
  get(text: string, tenant: string): object | undefined {
    const entry = this.#byText.get(text)
    return entry?.tenant === tenant ? entry.body : undefined
  }

  /** Keeps `body`, parsed from `text`, for the tenant's next identical request; freezes it. */
  remember(text: string, tenant: string, body: object): void {
    if (text.length * 2 > this.#byText.maxEntrySize) return
    deepFreeze(body)
    this.#memos.set(body, { validatedAs: undefined, keys: new Map() })
    this.#byText.set(text, { tenant, body })
  }

  /** The memo of a body this store handed out; undefined for any other object. */
  memoOf(body: unknown): BodyMemo | undefined {
    return body !== null && typeof body === 'object' ? this.#memos.get(body) : undefined
  }
}

/** Freezes every object and array in a parsed JSON value. Iterative: it runs before the depth check. */
function deepFreeze(root: object): void {
  const pending: object[] = [root]
  for (let value = pending.pop(); value !== undefined; value = pending.pop()) {
    Object.freeze(value)
    for (const child of Object.values(value)) if (child !== null && typeof child === 'object') pending.push(child as object)
  }
}
