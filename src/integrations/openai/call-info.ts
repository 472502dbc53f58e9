import type { CacheStatus } from '../../calls/types.js'
import { INFO_HEADERS } from './synthetic-response.js'

/** How tollgate answered one call, as its response headers tell. */
export interface CallInfo {
  cache: CacheStatus
  /** Answered without an upstream call of its own: a hit, a stale hit, or an identical call in flight it joined. */
  cached: boolean
  /** The entry's key in the wrapper's namespace (`cache.namespaced(...).delete(key)` forgets it). */
  cacheKey: string
  /** Seconds since the answer was produced. */
  ageSeconds: number
  /** USD the upstream call cost; for a stream that was not a hit, known only at its end (use `onCall`). */
  costUsd: number | undefined
  /** USD the answer saved (hits). */
  savedUsd: number | undefined
}

const number = (value: string | null) => (value === null ? undefined : Number(value))

/**
 * How tollgate answered a call, from its response (`.withResponse()`'s `response`, `.asResponse()`),
 * or undefined when the call did not go through tollgate (another route, or not wrapped).
 */
export function tollgateInfo(response: Pick<Response, 'headers'>): CallInfo | undefined {
  const { headers } = response
  const cache = headers.get(INFO_HEADERS.cache)
  if (cache !== 'HIT' && cache !== 'STALE' && cache !== 'MISS' && cache !== 'BYPASS') return undefined
  return {
    cache,
    cached: cache === 'HIT' || cache === 'STALE',
    cacheKey: headers.get(INFO_HEADERS.cacheKey) ?? '',
    ageSeconds: number(headers.get(INFO_HEADERS.age)) ?? 0,
    costUsd: number(headers.get(INFO_HEADERS.cost)),
    savedUsd: number(headers.get(INFO_HEADERS.saved)),
  }
}
