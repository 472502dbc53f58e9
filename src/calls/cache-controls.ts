/** What a request's `Cache-Control` asks of the cache. */
export interface CacheDirectives {
  /** `no-store`: neither read nor write. */
  noStore: boolean
  /** `no-cache`: don't read, do write (the answer refreshes the entry). */
  noCache: boolean
  /** `max-age=N`: a hit older than this is not good enough. */
  maxAgeMs?: number
}

const NONE: CacheDirectives = Object.freeze({ noStore: false, noCache: false })

/** Reads `Cache-Control` the same way for the gateway and the SDK integrations. */
export function cacheDirectives(control: string | undefined): CacheDirectives {
  if (!control) return NONE
  const lower = control.toLowerCase()
  const directives = new Set(lower.split(',').map((d) => d.trim()))
  const maxAge = /max-age=(\d+)/.exec(lower)?.[1]
  return { noStore: directives.has('no-store'), noCache: directives.has('no-cache'), ...(maxAge !== undefined ? { maxAgeMs: Number(maxAge) * 1000 } : {}) }
}

/**
 * Whether a request samples several different answers (`n > 1` with a temperature other than 0):
 * replaying one cached set would defeat its purpose, so it bypasses the cache.
 */
export function samplesMany(body: Record<string, unknown>): boolean {
  const n = typeof body.n === 'number' ? body.n : 1
  const temperature = typeof body.temperature === 'number' ? body.temperature : 1
  return n > 1 && temperature !== 0
}
