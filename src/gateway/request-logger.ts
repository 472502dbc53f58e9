import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

/**
 * A request's logger (`request.log`), made into a pino child only when something logs through it.
 * Fastify makes a child per request for its request id; the gateway logs per request only on a 5xx
 * (the access log writes its own lines), and a child made for every request anyway was about 1.8 µs
 * of a cache hit's CPU (measured at 32 connections), more than any step of the hit itself.
 */
class RequestLogger {
  #child: FastifyBaseLogger | undefined
  readonly #parent: FastifyBaseLogger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  /** The child, made on first use. */
  get log(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }

  get level(): string {
    return this.#child?.level ?? this.#parent.level
  }

  set level(level: string) {
    this.log.level = level
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.log.child(bindings, options)
  }
}

// The level methods forward to the child, made on first use. Defined once on the prototype: a request
// that never logs makes one small object, no closures.
for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) {
  Object.defineProperty(RequestLogger.prototype, level, {
    value(this: RequestLogger, ...args: unknown[]): void {
      ;(this.log[level] as (...args: unknown[]) => void)(...args)
    },
  })
}

/** Fastify's `childLoggerFactory`: request loggers that cost nothing until used. */
export function lazyRequestLogger(this: unknown, logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  // Its methods are pino's, spelt with rest arguments: pino's overloads cannot be implemented as such.
  return new RequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger
}
