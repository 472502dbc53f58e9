import { LoaderTimeoutError } from '../core/errors.js'
import type { CallOptions } from './options.js'
import type { Found } from './tiers.js'
import type { CacheResult } from './types.js'

type Outcome<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown } | { kind: 'timeout' }

/** Waits for `promise` at most `ms`; the timer is cleared as soon as it settles (no open handle). */
async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), ms)
  })
  try {
    return await Promise.race([
      promise.then(
        (value): Outcome<T> => ({ kind: 'value', value }),
        (error): Outcome<T> => ({ kind: 'error', error }),
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Decides what a getOrSet caller gets while `flight` (the loader, shared) runs.
 *
 * With an expired value still in grace: it is served at once (soft timeout 0, stale-while-revalidate),
 * or after at most `timeout` if the loader is slower, or if the loader fails. Without one: the loader's
 * result, or `E_LOADER_TIMEOUT` after `hardTimeout`. The loader is never abandoned: a late result is
 * still cached for the next caller, which is the point of having paid for it.
 */
export async function loadWithTimeouts<T>(
  flight: Promise<CacheResult<T>>,
  stale: Found | undefined,
  /** The stale entry's creation time on this host's clock. */
  staleCreatedAt: number | undefined,
  key: string,
  call: CallOptions,
  onStale: (reason: 'refreshing' | 'loader-failed' | 'timeout') => void,
): Promise<CacheResult<T>> {
  if (stale) {
    const served: CacheResult<T> = { value: stale.entry.value as T, status: 'stale', tier: stale.tier, createdAt: staleCreatedAt ?? stale.entry.createdAt }
    if (call.timeoutMs <= 0) {
      flight.catch(() => {})
      onStale('refreshing')
      return served
    }
    const outcome = await settleWithin(flight, call.timeoutMs)
    if (outcome.kind === 'value') return outcome.value
    flight.catch(() => {})
    onStale(outcome.kind === 'error' ? 'loader-failed' : 'timeout')
    return served
  }
  if (call.hardTimeoutMs === undefined) return flight
  const outcome = await settleWithin(flight, call.hardTimeoutMs)
  if (outcome.kind === 'value') return outcome.value
  if (outcome.kind === 'error') throw outcome.error
  flight.catch(() => {})
  throw new LoaderTimeoutError(key, call.hardTimeoutMs)
}
