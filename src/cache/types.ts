import type { Duration } from '../core/duration.js'

export type CacheTier = 'l1' | 'l2'

/** What `getOrSetEntry` answers: the value and where it came from. */
export interface CacheResult<T> {
  value: T
  /** hit: fresh from a tier; stale: within grace; miss: this call ran the loader; coalesced: it waited for another's. */
  status: 'hit' | 'stale' | 'miss' | 'coalesced'
  tier?: CacheTier
  /** When the value was produced (ms since the epoch); `now - createdAt` is its age. */
  createdAt: number
}

/** Per-call options of `set` and `getOrSet`; each overrides the cache's default of the same name. */
export interface CacheSetOptions {
  /** How long the entry is fresh. Default the cache's `ttl` (5 min). */
  ttl?: Duration
  /** How long after `ttl` it may still be served stale. Default the cache's `grace` (0). */
  grace?: Duration
  /** Labels for `invalidateTags`, e.g. `['persona:support', 'prompt:v12']`. At most 64, no newlines. */
  tags?: readonly string[]
  /** false: neither read nor write L1 for this call (L2 only). Default true. */
  l1?: boolean
}

export interface GetOrSetOptions extends CacheSetOptions {
  /**
   * Soft timeout: with a stale value at hand, wait at most this long for the loader, then serve the
   * stale value while the loader finishes in the background. Default the cache's `timeout` (0: serve
   * stale at once, i.e. stale-while-revalidate).
   */
  timeout?: Duration
  /**
   * Hard timeout: with nothing to serve, fail with `E_LOADER_TIMEOUT` after this long (the loader still
   * finishes and its result is cached). Default the cache's `hardTimeout` (none).
   */
  hardTimeout?: Duration
}

export interface CacheGetOptions {
  /** false: skip L1 for this read. Default true. */
  l1?: boolean
}

/** What a loader receives. */
export interface LoaderContext<T> {
  readonly key: string
  /** The expired value being refreshed, if there is one. */
  readonly stale: T | undefined
  /** Return the value to the caller(s) without caching it (e.g. an error reply, a partial result). */
  skip(): void
}

export type Loader<T> = (context: LoaderContext<T>) => T | Promise<T>

export interface CacheStats {
  hits: { l1: number; l2: number }
  misses: number
  /** Expired values served within their grace (refreshing, loader failed, or slower than `timeout`). */
  stale: number
  loaderCalls: number
  loaderErrors: number
  /** getOrSet calls that waited for another caller's loader, here or on another instance. */
  coalesced: number
  /** L2 operations that failed (each counted once, never thrown by get/getOrSet/set). */
  l2Errors: number
  /** Value writes to L2 that failed and were dropped. */
  l2WriteFailures: number
  /** Values not cached because they were over `maxEntryBytes`. */
  oversize: number
  l1: { entries: number; bytes: number }
  circuit: 'closed' | 'open' | 'half-open' | 'none'
  bus: 'healthy' | 'down' | 'none'
}

export interface CacheEvents extends Record<string, unknown> {
  hit: { key: string; namespace: string; tier: CacheTier }
  miss: { key: string; namespace: string }
  stale: { key: string; namespace: string; reason: 'refreshing' | 'loader-failed' | 'timeout' }
  set: { key: string; namespace: string; bytes: number }
  delete: { key: string; namespace: string }
  /** This instance invalidated something, or the bus told it another instance did. */
  invalidate: { namespace: string; kind: 'key' | 'tags' | 'namespace'; keys?: string[]; tags?: string[]; remote: boolean }
  /** A caller waited for another caller's loader (in this process, or another instance's through the lease) instead of running its own. */
  coalesced: { key: string; namespace: string }
  /** A loader threw (the error is also rethrown to callers unless a stale value was served). */
  'loader-error': { key: string; namespace: string; error: Error }
  /** An L2 or bus operation failed; the cache carried on without it. */
  error: { operation: string; error: Error }
}
