import type { OpenAI } from 'openai'
import { InvalidOptionError } from '../../core/errors.js'
import type { TollgateOpenAIOptions } from './options.js'
import { type Fetch, tollgateFetch } from './tollgate-fetch.js'

/**
 * The client with its calls put through tollgate: a copy made by the SDK's own `withOptions`, with a
 * {@link tollgateFetch} around the fetch it used. A copy of the same class, not a proxy: its types,
 * `APIPromise`, `.withResponse()`, `.asResponse()` and `Stream` are the SDK's, untouched. The
 * upstream `timeout` defaults to the client's own.
 */
export function withTollgate<C extends Pick<OpenAI, 'withOptions'>>(client: C, options: TollgateOpenAIOptions): C {
  if (client === null || typeof client !== 'object' || typeof client.withOptions !== 'function') throw new InvalidOptionError('client', client, 'an OpenAI client (openai >= 5)')
  // The fetch the client was given, or the one it found; the SDK keeps it on the instance.
  const own = (client as unknown as { fetch?: unknown }).fetch
  const fetch = typeof own === 'function' ? (own as Fetch) : globalThis.fetch
  // An upstream call the cache wants outlives its caller; it is given the patience the client has.
  const timeout = (client as unknown as { timeout?: unknown }).timeout
  const patience = options?.timeout === undefined && typeof timeout === 'number' && timeout > 0 ? { timeout } : {}
  return client.withOptions({ fetch: tollgateFetch({ ...patience, ...options, fetch }) }) as unknown as C
}
