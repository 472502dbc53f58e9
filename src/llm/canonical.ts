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

/**
 * Feeds `value` to `hash` in a canonical form: object keys sorted at every depth, arrays in order,
 * strings length-prefixed instead of escaped. The pieces go to the hash as they come: a 4 MiB prompt
 * is neither escaped nor copied into one big string first (that took three quarters of a large
 * body's time on the event loop).
 */
function feed(hash: Hash, value: unknown, depth: number): void {
  if (typeof value === 'string') {
    // A lone surrogate would be hashed as U+FFFD, like any other: those strings go escaped.
    if ((value as string & { isWellFormed(): boolean }).isWellFormed()) hash.update(`s${value.length}:`).update(value)
    else hash.update(`j${JSON.stringify(value)}`)
    return
  }
  if (typeof value === 'number' || typeof value === 'boolean') return void hash.update(`${typeof value === 'number' ? 'n' : 'b'}${String(value)};`)
  if (value === null || typeof value !== 'object') return void hash.update('z')
  if (depth >= MAX_DEPTH) throw new TollgateError('E_TOO_DEEP', `the request is nested more than ${MAX_DEPTH} levels deep`)
  if (Array.isArray(value)) {
    hash.update(`a${value.length}[`)
    for (const item of value) feed(hash, item, depth + 1)
    return void hash.update(']')
  }
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
  hash.update(`o${keys.length}{`)
  for (const key of keys) {
    feed(hash, key, depth + 1)
    feed(hash, record[key], depth + 1)
  }
  hash.update('}')
}

/**
 * The cache key of an LLM request: SHA-256 over the route and the canonical request, with `model`
 * already resolved from any alias (two aliases of one model share entries) and the ignored fields left
 * out. Tenant scoping is the cache namespace's job, not the key's.
 */
export function requestCacheKey(route: string, body: Record<string, unknown>, model: string): string {
  // Null prototype: a client's `__proto__` key is a key like any other here, not a prototype.
  const relevant: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const [key, value] of Object.entries(body)) if (!IGNORED.has(key)) relevant[key] = value
  relevant.model = model
  const hash = createHash('sha256').update(route).update('\n')
  feed(hash, relevant, 0)
  return hash.digest('hex')
}
