import { createHash, type Hash } from 'node:crypto'
import { TollgateError } from '../core/errors.js'

/**
 * Request fields that never change what the model answers, so two requests differing only in them
 * share a cache entry: transport (`stream`, `stream_options`), attribution (`user`, `metadata`) and
 * OpenAI's own storage flag (`store`). Every other field, including ones this list does not know
 * yet, is part of the key: an unknown parameter may well change the output.
 */
const IGNORED = new Set(['stream', 'stream_options', 'user', 'metadata', 'store'])

/** Deeper requests are refused rather than walked: the gateway's own bound (`server.maxJsonDepth`) is at most this. */
const MAX_DEPTH = 1_000

/** Strings from this length go to the hash on their own; shorter pieces are joined first (one hash call for a small body). */
const LONG_STRING = 1_024

/**
 * The canonical form of a request, fed to a hash: object keys sorted at every depth, arrays in
 * order, strings length-prefixed instead of escaped. A long string goes to the hash as it is, never
 * escaped or copied into one big string first (that took three quarters of a 4 MiB body's time on the
 * event loop); short pieces are joined and hashed together (a call into the hash per piece cost a
 * small body more than building its JSON did).
 */
class CanonicalHash {
  #pending = ''

  constructor(private readonly hash: Hash) {}

  feed(value: unknown, depth: number): void {
    if (typeof value === 'string') return this.#string(value)
    if (typeof value === 'number' || typeof value === 'boolean') return void (this.#pending += `${typeof value === 'number' ? 'n' : 'b'}${String(value)};`)
    if (value === null || typeof value !== 'object') return void (this.#pending += 'z')
    // Values a JSON body never holds but an SDK's call options do (file parts, image URLs): without
    // these, every URL and Date would hash as an empty object and a file as a key per byte.
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return this.#bytes(value)
    if (value instanceof URL) return void (this.#pending += `u${value.href.length}:${value.href}`)
    if (value instanceof Date) return void (this.#pending += `d${value.getTime()};`)
    if (depth >= MAX_DEPTH) throw new TollgateError('E_TOO_DEEP', `the request is nested more than ${MAX_DEPTH} levels deep`)
    if (Array.isArray(value)) {
      this.#pending += `a${value.length}[`
      for (const item of value) this.feed(item, depth + 1)
      return void (this.#pending += ']')
    }
    const record = value as Record<string, unknown>
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
    this.#pending += `o${keys.length}{`
    for (const key of keys) {
      this.#string(key)
      this.feed(record[key], depth + 1)
    }
    this.#pending += '}'
  }

  digest(): string {
    return this.hash.update(this.#pending).digest('hex')
  }

  #bytes(value: ArrayBufferView | ArrayBuffer): void {
    const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    this.hash.update(`${this.#pending}x${bytes.length}:`).update(bytes)
    this.#pending = ''
  }

  #string(value: string): void {
    // A lone surrogate would be hashed as U+FFFD, like any other: such strings go escaped.
    if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) return void (this.#pending += `j${JSON.stringify(value)}`)
    this.#pending += `s${value.length}:`
    if (value.length < LONG_STRING) return void (this.#pending += value)
    this.hash.update(this.#pending).update(value)
    this.#pending = ''
  }
}

/**
 * The cache key of an LLM request: SHA-256 over the route and the canonical request, with `model`
 * already resolved from any alias (two aliases of one model share entries) and the ignored fields left
 * out. Tenant scoping is the cache namespace's job, not the key's; `partition` (who inside the
 * namespace may read the entry: an end user, a gateway key) is hashed in, so the same request of two
 * partitions has two keys in one namespace.
 */
export function requestCacheKey(route: string, body: Record<string, unknown>, model: string, partition?: string): string {
  // Null prototype: a client's `__proto__` key is a key like any other here, not a prototype.
  const relevant: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const [key, value] of Object.entries(body)) if (!IGNORED.has(key)) relevant[key] = value
  relevant.model = model
  const canonical = new CanonicalHash(createHash('sha256').update(partition === undefined ? `${route}\n` : `${route}\n${partition}\n`))
  canonical.feed(relevant, 0)
  return canonical.digest()
}

/** Keys one body keeps at most in its memo: one body is one request, asked by a few partitions at most. */
const MEMO_KEYS = 16

/**
 * {@link requestCacheKey}, looked up first in `memo`, the keys already worked out for this very body
 * (which must never change: the gateway's memo holds frozen bodies only).
 */
export function memoisedRequestCacheKey(memo: Map<string, string>, route: string, body: Record<string, unknown>, model: string, partition?: string): string {
  // Length-prefixed: a model name or a partition may hold any character, and two pairs must never share an id.
  const id = partition === undefined ? `${route}\n${model.length}:${model}` : `${route}\n${model.length}:${model}\n${partition}`
  let key = memo.get(id)
  if (key === undefined) {
    key = requestCacheKey(route, body, model, partition)
    if (memo.size >= MEMO_KEYS) memo.clear()
    memo.set(id, key)
  }
  return key
}

/**
 * SHA-256 over `head` and the canonical form of `value` (sorted keys, depth-bounded, binary and URLs
 * hashed by content): the cache key of a call that is not an HTTP body, such as an AI SDK model call.
 * Throws `E_TOO_DEEP` past the depth bound.
 */
export function canonicalDigest(head: string, value: unknown): string {
  const canonical = new CanonicalHash(createHash('sha256').update(head))
  canonical.feed(value, 0)
  return canonical.digest()
}
