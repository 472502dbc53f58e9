import { ReplyError } from 'ioredis'
import { StoreCommandError, StoreUnavailableError, type TollgateError } from '../../core/errors.js'

/** Server replies that mean "not now" (a failover, a load, a resharding) rather than "never". */
const TRANSIENT_REPLY = /^(LOADING|MASTERDOWN|CLUSTERDOWN|READONLY|TRYAGAIN|BUSY)\b/

/**
 * Turns whatever ioredis threw into one of tollgate's typed store errors, so capabilities decide on
 * `code` alone: errors the server meant (a bad script, a wrong type) apart from unavailability
 * (refused, reset, offline, closed, failing over). Timeouts are raised by the store itself.
 */
export function mapRedisError(err: unknown, store: string, operation: string): TollgateError {
  if (err instanceof ReplyError && !TRANSIENT_REPLY.test((err as Error).message)) return new StoreCommandError(store, operation, { cause: err })
  return new StoreUnavailableError(store, operation, { cause: err instanceof Error ? err : new Error(String(err)) })
}

export function isNoScript(err: unknown): boolean {
  return err instanceof ReplyError && (err as Error).message.startsWith('NOSCRIPT')
}
