import { ErrorReply, TimeoutError } from '@redis/client'
import { StoreCommandError, StoreTimeoutError, StoreUnavailableError, type TollgateError } from '../../core/errors.js'

/** Server replies that mean "not now" (a failover, a load, a resharding) rather than "never". */
const TRANSIENT_REPLY = /^(LOADING|MASTERDOWN|CLUSTERDOWN|READONLY|TRYAGAIN|BUSY)\b/

/**
 * Turns whatever node-redis threw into one of tollgate's typed store errors, so capabilities decide on
 * `code` alone: timeouts (a paused or overloaded server) apart from unavailability (refused, reset,
 * offline, closed) apart from errors the server meant (a bad script, a wrong type).
 */
export function mapRedisError(err: unknown, store: string, operation: string, timeoutMs: number): TollgateError {
  if (err instanceof TimeoutError) return new StoreTimeoutError(store, operation, timeoutMs, { cause: err })
  if (err instanceof ErrorReply && !TRANSIENT_REPLY.test(err.message)) {
    return new StoreCommandError(store, operation, { cause: err })
  }
  return new StoreUnavailableError(store, operation, { cause: err instanceof Error ? err : new Error(String(err)) })
}

export function isNoScript(err: unknown): boolean {
  return err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')
}
