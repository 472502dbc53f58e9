import { createHash } from 'node:crypto'
import { z } from 'zod'
import type { Cache } from '../../cache/cache.js'
import { DEFAULTS } from '../../core/defaults.js'
import type { Duration } from '../../core/duration.js'
import { positiveDurationMs } from '../../core/options.js'

export interface ResponseCacheOptions {
  /** Where responses are kept: a cache from `createCache()` (its store, L1 and TTL apply). Required. */
  cache: Cache
  /**
   * Request headers whose values are part of the key, sent back in `Vary`. A response that depends
   * on the caller (its language, its account) is only shared by callers with the same values.
   * Default none: every caller of a URL shares its response.
   */
  vary?: string[]
  /** How long a response without `max-age`/`s-maxage` stays fresh. Default the cache's own `ttl`. */
  ttl?: Duration
  /** Header saying `HIT`, `MISS` or `BYPASS` on every cacheable route's reply, or false. Default `'x-cache'`. */
  statusHeader?: string | false
}

const header = z.string().regex(/^[!#$%&'*+.^`|~\w-]{1,64}$/, { message: 'an HTTP header name' })
export const responseCacheShape = {
  cache: z.custom<Cache>((v) => typeof (v as Cache)?.getOrSet === 'function', { message: 'a Cache from createCache()' }),
  vary: z.array(header).max(16).default([]),
  ttl: positiveDurationMs.optional(),
  statusHeader: z.union([header, z.literal(false)]).default(DEFAULTS.http.cacheStatusHeader),
}
export const responseCacheSchema = z.object(responseCacheShape).strict()
/** What a route may change of the plugin's caching. */
export const routeCacheSchema = z.object({ vary: responseCacheShape.vary.optional(), ttl: responseCacheShape.ttl }).strict()

export type Headers = Record<string, string | string[] | number | undefined>

/** What a request may be answered with, from the point of view of the cache. */
export type Lookup =
  | { state: 'bypass' }
  | { state: 'hit'; status: number; headers: Array<[string, string]>; body: Buffer; age: number }
  | { state: 'miss'; key: string }

/** What is kept of a response: JSON, since that is what the cache stores. */
interface Entry {
  status: number
  headers: Array<[string, string]>
  body: string
  storedAt: number
}

/**
 * Headers that describe one transfer, one caller or one decision, not the resource: a cached reply
 * gets fresh ones (or none). A response that sets a cookie is not cached at all.
 */
const NOT_STORED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length', 'age', 'retry-after', 'ratelimit', 'ratelimit-policy', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'])
const MAX_DIRECTIVES = 32

/** Cache-Control directives, lower-cased; a header with an absurd number of them is read as its first 32. */
export function cacheControl(value: string | string[] | number | undefined): Map<string, string> {
  const directives = new Map<string, string>()
  const text = Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : ''
  for (const part of text.split(',', MAX_DIRECTIVES)) {
    const [name = '', arg = ''] = part.split('=', 2)
    if (name.trim()) directives.set(name.trim().toLowerCase(), arg.trim().replace(/^"|"$/g, ''))
  }
  return directives
}

function seconds(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : undefined
}

/** The path and the query, its parameters in a stable order: `?b=1&a=2` and `?a=2&b=1` are one entry. */
export function normalizeUrl(url: string): string {
  const at = url.indexOf('?')
  if (at < 0) return url
  const params = new URLSearchParams(url.slice(at + 1))
  params.sort()
  const query = params.toString()
  return query ? `${url.slice(0, at)}?${query}` : url.slice(0, at)
}

const one = (value: Headers[string]) => (Array.isArray(value) ? value.join(', ') : value === undefined ? undefined : String(value))

/**
 * Caching of GET responses, free of any framework: the key of a request (method, normalised URL and
 * the `vary` headers' values), what `Cache-Control` allows on the request and on the response, and
 * what is stored and served. Only 200s are cached; the TTL is the response's `s-maxage` or `max-age`
 * when it gives one.
 */
export class ResponseCache {
  readonly statusHeader: string | false
  readonly #cache: Cache
  readonly #vary: string[]
  readonly #ttl: number | undefined

  constructor(options: z.output<typeof responseCacheSchema>) {
    this.#cache = options.cache
    this.#vary = options.vary.map((name) => name.toLowerCase())
    this.#ttl = options.ttl
    this.statusHeader = options.statusHeader
  }

  /** The same cache with a route's own `vary` or `ttl`. */
  withRoute(route: z.output<typeof routeCacheSchema>): ResponseCache {
    return new ResponseCache({ cache: this.#cache, vary: route.vary ?? this.#vary, ttl: route.ttl ?? this.#ttl, statusHeader: this.statusHeader })
  }

  /**
   * What to do with a request. Not GET, `Cache-Control: no-store`, or an `Authorization` the key does
   * not vary on (a shared cache must not answer one caller with another's reply): bypass. `no-cache`
   * (or `Pragma: no-cache`), or an entry older than the request's `max-age`: a miss whose response
   * replaces the entry.
   */
  async lookup(method: string, url: string, headers: Headers): Promise<Lookup> {
    if (method !== 'GET') return { state: 'bypass' }
    const request = cacheControl(headers['cache-control'])
    if (request.has('no-store')) return { state: 'bypass' }
    if (headers.authorization !== undefined && !this.#vary.includes('authorization')) return { state: 'bypass' }
    const key = this.#key(url, headers)
    const revalidate = request.has('no-cache') || (headers['cache-control'] === undefined && /no-cache/i.test(one(headers.pragma) ?? ''))
    if (revalidate) return { state: 'miss', key }
    const entry = await this.#cache.get<Entry>(key)
    if (!entry) return { state: 'miss', key }
    const age = Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000))
    const maxAge = seconds(request.get('max-age'))
    if (maxAge !== undefined && age > maxAge) return { state: 'miss', key }
    return { state: 'hit', status: entry.status, headers: entry.headers, body: Buffer.from(entry.body, 'base64'), age }
  }

  /**
   * Stores a response to a missed lookup when it may be: a 200 with a body, no `Set-Cookie`, no
   * `no-store`, `private` or `no-cache`, no zero lifetime, and no `Vary` on a header the key does not
   * hold. A body over the cache's `maxEntryBytes` is not stored. Returns whether it was stored.
   */
  async store(key: string, status: number, headers: Headers, body: string | Buffer): Promise<boolean> {
    if (status !== 200 || headers['set-cookie'] !== undefined) return false
    const response = cacheControl(headers['cache-control'])
    if (response.has('no-store') || response.has('private') || response.has('no-cache')) return false
    const vary = (one(headers.vary) ?? '').toLowerCase().split(',').map((name) => name.trim()).filter(Boolean)
    if (vary.some((name) => name === '*' || !this.#vary.includes(name))) return false
    const lifetime = seconds(response.get('s-maxage')) ?? seconds(response.get('max-age'))
    if (lifetime === 0) return false
    const kept: Array<[string, string]> = []
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase()
      const text = one(value)
      if (text !== undefined && !NOT_STORED.has(lower) && lower !== this.statusHeader) kept.push([lower, text])
    }
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    const entry: Entry = { status, headers: kept, body: bytes.toString('base64'), storedAt: Date.now() }
    // Base64 grows a body by a third: checked here, the cache's own limit would throw on the write.
    if (entry.body.length + 1024 > this.#cache.maxEntryBytes) return false
    const ttl = lifetime === undefined ? this.#ttl : lifetime * 1000
    await this.#cache.set(key, entry, ttl === undefined ? {} : { ttl })
    return true
  }

  /** The `Vary` a reply needs: what it already says, plus the headers this key is made of. */
  vary(existing: Headers[string]): string | undefined {
    const names = (one(existing) ?? '').split(',').map((name) => name.trim()).filter(Boolean)
    const lower = new Set(names.map((name) => name.toLowerCase()))
    for (const name of this.#vary) if (!lower.has(name)) names.push(name)
    return names.length ? names.join(', ') : undefined
  }

  #key(url: string, headers: Headers): string {
    const hash = createHash('sha256').update(`GET\n${normalizeUrl(url)}`)
    for (const name of this.#vary) hash.update(`\n${name}: ${one(headers[name]) ?? ''}`)
    return `http:${hash.digest('base64url')}`
  }
}
