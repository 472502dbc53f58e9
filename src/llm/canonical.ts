import { createHash } from 'node:crypto'

/**
 * Request fields that never change what the model answers, so two requests differing only in them
 * share a cache entry: transport (`stream`, `stream_options`), attribution (`user`, `metadata`) and
 * OpenAI's own storage flag (`store`). Every other field, including ones this list does not know
 * yet, is part of the key: an unknown parameter may well change the output.
 */
const IGNORED = new Set(['stream', 'stream_options', 'user', 'metadata', 'store'])

/** JSON with object keys sorted at every depth, so field order never changes a key. Arrays keep their order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
  return `{${entries.join(',')}}`
}

/**
 * The cache key of an LLM request: SHA-256 over the route and the canonical request, with `model`
 * already resolved from any alias (two aliases of one model share entries) and the ignored fields left
 * out. Tenant scoping is the cache namespace's job, not the key's.
 */
export function requestCacheKey(route: string, body: Record<string, unknown>, model: string): string {
  const relevant: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) if (!IGNORED.has(key)) relevant[key] = value
  relevant.model = model
  return createHash('sha256').update(route).update('\n').update(canonicalJson(relevant)).digest('hex')
}
