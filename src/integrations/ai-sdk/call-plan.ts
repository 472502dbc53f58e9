import type { Cache } from '../../cache/cache.js'
import type { CacheResult, GetOrSetOptions } from '../../cache/types.js'
import { InvalidOptionError, type TollgateError } from '../../core/errors.js'
import type { CallCharge } from './call-limits.js'
import { callCacheKey } from './cache-key.js'
import type { ModelCall, ProviderMetadata } from './model-types.js'
import type { ParsedMiddlewareOptions } from './options.js'

/**
 * How a call was answered, as `providerMetadata.tollgate.cache` reports it: `miss` (this call asked
 * the model), `hit`, `stale` (served within grace while a refresh runs), `coalesced` (waited for an
 * identical call in flight), `bypass` (the `key` option said not to cache it).
 */
export type CacheOutcome = CacheResult<unknown>['status'] | 'bypass'

/** Where and how one call is cached. */
export interface CachePlan {
  cache: Cache
  key: string
  options: GetOrSetOptions
}

/** The cache plan of a call, or undefined when the `key` option says not to cache it. */
export function planCall(options: ParsedMiddlewareOptions, call: ModelCall): CachePlan | undefined {
  const key = options.key ? options.key(call) : defaultKey(call)
  if (key === undefined) return undefined
  if (typeof key !== 'string' || key.length === 0) throw new InvalidOptionError('key', key, 'a non-empty string, or undefined not to cache (returned by the key function)')
  const namespace = options.namespace?.(call)
  const cache = namespace === undefined ? options.namespaced : options.cache.namespaced(namespace)
  const tags = typeof options.tags === 'function' ? options.tags(call) : options.tags
  const callOptions: GetOrSetOptions = {}
  if (options.ttl !== undefined) callOptions.ttl = options.ttl
  if (options.grace !== undefined) callOptions.grace = options.grace
  if (tags !== undefined) callOptions.tags = tags
  return { cache, key, options: callOptions }
}

/** The default key, or undefined for a call nested too deep to key: it goes to the model uncached rather than fail. */
function defaultKey(call: ModelCall): string | undefined {
  try {
    return callCacheKey(call)
  } catch (err) {
    if ((err as TollgateError).code === 'E_TOO_DEEP') return undefined
    throw err
  }
}

/**
 * A loader's outcome that belongs to the caller that ran it, not to the callers waiting for it: its
 * own abort signal fired, its reader cancelled the stream, or its answer cannot be cached. The cache
 * hands it to the waiting callers, who then call the model themselves rather than fail for another
 * caller's reason.
 */
export class NotShared extends Error {
  constructor(override readonly cause: unknown) {
    super('the call that was answering this one cannot share its answer')
  }
}

/** A failure of the model call: the caller's own when its abort signal fired (see {@link NotShared}). */
export function loaderFailure(error: unknown, call: ModelCall): unknown {
  return call.params.abortSignal?.aborted ? new NotShared(error) : error
}

/** A copy of `target` whose provider metadata says how the call was answered. */
export function annotated<T extends object>(target: T, outcome: CacheOutcome): T {
  const metadata = (target as { providerMetadata?: ProviderMetadata }).providerMetadata
  return { ...target, providerMetadata: { ...metadata, tollgate: { cache: outcome } } }
}

/**
 * `answer`, unless the call's own abort signal fires (or has fired) while `waiting()` says it still
 * waits for another caller's model call, as a hit, or for a turn to run its own: then the caller
 * leaves at once with the signal's reason, as the AI SDK would, and its token estimate goes back (it
 * caused no model call). The call it waited for and the other callers waiting for it run on. Once
 * the caller's own model call has started, the signal is the model's to honour, as without the cache.
 */
export function leaveOnAbort<T>(answer: Promise<T>, call: ModelCall, charge: CallCharge | undefined, waiting: () => boolean): Promise<T> {
  const signal = call.params.abortSignal
  if (!signal) return answer
  return new Promise<T>((resolve, reject) => {
    const leave = () => {
      if (!waiting()) return
      charge?.refund()
      reject(signal.reason)
    }
    if (signal.aborted) leave()
    else signal.addEventListener('abort', leave, { once: true })
    answer.then(resolve, reject).finally(() => signal.removeEventListener('abort', leave))
  })
}

/**
 * For a loader: the caller has left on its abort signal (see {@link leaveOnAbort}) before its turn came,
 * so no model call is made for it; the callers that waited for this one call the model themselves.
 */
export function leftBeforeItsTurn(call: ModelCall): NotShared | undefined {
  const signal = call.params.abortSignal
  return signal?.aborted ? new NotShared(signal.reason) : undefined
}
