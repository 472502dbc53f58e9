/**
 * Every error tollgate throws on purpose is a {@link TollgateError} with a stable `code`, so callers
 * can branch on `err.code` without string-matching messages (which are free to improve).
 */
export class TollgateError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** An option given to a public constructor or call is invalid. */
export class InvalidOptionError extends TollgateError {
  readonly option: string
  readonly value: unknown
  readonly expected: string

  constructor(option: string, value: unknown, expected: string, options?: { cause?: unknown }) {
    super('E_INVALID_OPTION', `Invalid option "${option}": got ${describe(value)}, expected ${expected}`, options)
    this.option = option
    this.value = value
    this.expected = expected
  }
}

/** The store could not be reached: not connected, connection refused, connection lost. */
export class StoreUnavailableError extends TollgateError {
  readonly store: string
  readonly operation: string

  constructor(store: string, operation: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : ''
    super('E_STORE_UNAVAILABLE', `Store ${store} is unavailable for ${operation}${reason}`, options)
    this.store = store
    this.operation = operation
  }
}

/** The store did not answer within the per-command timeout (e.g. a paused or overloaded server). */
export class StoreTimeoutError extends TollgateError {
  readonly store: string
  readonly operation: string
  readonly timeoutMs: number

  constructor(store: string, operation: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('E_STORE_TIMEOUT', `Store ${store} did not answer ${operation} within ${timeoutMs}ms`, options)
    this.store = store
    this.operation = operation
    this.timeoutMs = timeoutMs
  }
}

/** The store was closed by its owner; it will not reconnect. */
export class StoreClosedError extends TollgateError {
  readonly store: string

  constructor(store: string) {
    super('E_STORE_CLOSED', `Store ${store} is closed`)
    this.store = store
  }
}

/** The store answered with an error (a script error, a wrong type); retrying will not help. */
export class StoreCommandError extends TollgateError {
  readonly store: string
  readonly operation: string

  constructor(store: string, operation: string, options: { cause: unknown }) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause)
    super('E_STORE_COMMAND', `Store ${store} rejected ${operation}: ${reason}`, options)
    this.store = store
    this.operation = operation
  }
}

/** A capability needs something (scripts, pub/sub, TTL reads) that this kind of store cannot do. */
export class UnsupportedByStoreError extends TollgateError {
  readonly store: string
  readonly feature: string

  constructor(store: string, feature: string, neededBy?: string) {
    const who = neededBy ? `${neededBy} needs` : 'this operation needs'
    super('E_UNSUPPORTED_BY_STORE', `${who} ${feature}, which the ${store} store does not support`)
    this.store = store
    this.feature = feature
  }
}

/** A value is larger than the configured maximum; it was not written. */
export class ValueTooLargeError extends TollgateError {
  readonly bytes: number
  readonly maxBytes: number

  constructor(bytes: number, maxBytes: number, what = 'value') {
    super('E_VALUE_TOO_LARGE', `The ${what} is ${bytes} bytes, over the maximum of ${maxBytes} bytes`)
    this.bytes = bytes
    this.maxBytes = maxBytes
  }
}

/** The gateway config could not be read or is invalid; `path` names the field (`upstreams.0.baseUrl`). */
export class ConfigError extends TollgateError {
  readonly path: string

  constructor(path: string, message: string) {
    super('E_CONFIG', `Invalid config at ${path || '(root)'}: ${message}`)
    this.path = path
  }
}

/** A cache loader did not finish within its hard timeout and there was no stale value to serve instead. */
export class LoaderTimeoutError extends TollgateError {
  readonly key: string
  readonly timeoutMs: number

  constructor(key: string, timeoutMs: number) {
    super('E_LOADER_TIMEOUT', `The loader for cache key "${key}" did not finish within ${timeoutMs}ms`)
    this.key = key
    this.timeoutMs = timeoutMs
  }
}

/** A value could not be serialized or deserialized (e.g. a BigInt or a cycle for JSON). */
export class SerializationError extends TollgateError {
  constructor(what: string, options: { cause: unknown }) {
    const reason = options.cause instanceof Error ? `: ${options.cause.message}` : ''
    super('E_SERIALIZATION', `Could not ${what}${reason}`, options)
  }
}

/** Bytes in L2 under a cache key are not a cache entry (another writer, a format change); read as a miss. */
export class CorruptEntryError extends TollgateError {
  readonly key: string

  constructor(key: string) {
    super('E_CORRUPT_ENTRY', `The value under ${key} is not a tollgate cache entry; it is treated as a miss`)
    this.key = key
  }
}

/** A session id is not acceptable: empty, too long, or with characters outside the allowed set. */
export class InvalidSessionIdError extends TollgateError {
  readonly id: unknown

  constructor(id: unknown, expected: string) {
    super('E_INVALID_SESSION_ID', `Invalid session id ${describe(id)}: expected ${expected}`)
    this.id = id
  }
}

/** A session `update` kept losing its compare-and-set to concurrent writers and gave up. */
export class SessionConflictError extends TollgateError {
  readonly id: string
  readonly attempts: number

  constructor(id: string, attempts: number) {
    super('E_SESSION_CONFLICT', `Session "${id}" changed under ${attempts} update attempts in a row`)
    this.id = id
    this.attempts = attempts
  }
}

/** The memory store refused a write because it is full and set not to evict (the limits store). */
export class StoreFullError extends TollgateError {
  readonly store: string
  readonly maxBytes: number

  constructor(store: string, maxBytes: number) {
    super('E_STORE_FULL', `Store ${store} is full (${maxBytes} bytes) and does not evict`)
    this.store = store
    this.maxBytes = maxBytes
  }
}

/**
 * An upstream call did not produce a completion. `code` says why: `E_UPSTREAM_STATUS` (it answered
 * an error status: `status`, `body`, `contentType` and `headers` hold its reply), `E_UPSTREAM_TIMEOUT`,
 * `E_UPSTREAM_UNREACHABLE`, `E_UPSTREAM_INVALID` (a 2xx that is not a completion),
 * `E_UPSTREAM_INCOMPLETE` (a stream that ended before every choice finished), `E_UPSTREAM_TOO_LARGE`
 * (a reply past `maxUpstreamReplyBytes`) or `E_UPSTREAM_ABORTED` (no one needed the answer any more).
 */
export class UpstreamError extends TollgateError {
  readonly upstream: string
  readonly status: number | undefined
  readonly body: Buffer | undefined
  readonly contentType: string | undefined
  /** The upstream's headers worth passing on (Retry-After, request ids); lower-case names. */
  readonly headers: Record<string, string>
  /** Whether the request was sent (false: dropped while it waited for a connection, so it cost nothing). */
  readonly sent: boolean

  constructor(
    code: 'E_UPSTREAM_STATUS' | 'E_UPSTREAM_TIMEOUT' | 'E_UPSTREAM_UNREACHABLE' | 'E_UPSTREAM_INVALID' | 'E_UPSTREAM_INCOMPLETE' | 'E_UPSTREAM_TOO_LARGE' | 'E_UPSTREAM_ABORTED',
    upstream: string,
    message: string,
    details: { status?: number; body?: Buffer; contentType?: string; headers?: Record<string, string>; cause?: unknown; sent?: boolean } = {},
  ) {
    super(code, `upstream ${upstream}: ${message}`, { cause: details.cause })
    this.upstream = upstream
    this.status = details.status
    this.body = details.body
    this.contentType = details.contentType
    this.headers = details.headers ?? {}
    this.sent = details.sent ?? true
  }
}

/** A call was refused by its limits; `charge` holds every rule's verdict (the gateway's 429 headers come from it). */
export class RateLimitedError<Charge = unknown> extends TollgateError {
  readonly charge: Charge

  constructor(message: string, charge: Charge) {
    super('E_RATE_LIMITED', message)
    this.charge = charge
  }
}

/** A call names a model without a price while `unpricedModel` is `deny`. */
export class ModelNotPricedError extends TollgateError {
  readonly model: string

  constructor(model: string) {
    super('E_MODEL_NOT_PRICED', `The model \`${model}\` has no price in this gateway's pricing table, and unpriced models are refused (unpricedModel: deny).`)
    this.model = model
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (typeof value === 'function') return 'a function'
  try {
    const json = JSON.stringify(value)
    return json.length > 80 ? `${json.slice(0, 80)}…` : json
  } catch {
    return Object.prototype.toString.call(value)
  }
}
