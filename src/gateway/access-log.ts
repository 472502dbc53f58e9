import { pino, type DestinationStream, type Logger } from 'pino'
import type { CacheStatus } from '../calls/types.js'

/** What an operator reads of one request, written once its reply has ended (or its client left). */
export interface AccessLine {
  method: string
  /** The route matched (`/v1/chat/completions`), never the raw path: raw paths are client input. */
  route: string
  /** 499 when the client left before the reply ended. */
  status: number
  /** `NONE` for requests that asked no cache (admin, pass-through, errors before a call). */
  cache: CacheStatus | 'NONE'
  tenant: string | undefined
  key: string | undefined
  model: string | undefined
  upstream: string | undefined
  /** From the first byte of the request to the last of the reply. */
  ms: number
  /** What of it the call waited on an upstream (its own call, or the identical one it joined). */
  upstreamMs: number | undefined
  bytesIn: number
  bytesOut: number
}

export interface AccessLogOptions {
  /** One hit (HIT, STALE) in this many is written; every other request always is. */
  sampleHits: number
}

/**
 * One JSON line per request through pino's asynchronous destination (sonic-boom): lines are buffered
 * and written off the request's path, so a gateway answering 30,000 hits a second does not spend its
 * time in `write()`. It replaces Fastify's pair of lines per request, which cost a third of a hit's
 * throughput and said less (no tenant, cache status, model or upstream time).
 */
export class AccessLog {
  readonly #logger: Logger
  readonly #destination: DestinationStream
  readonly #sampleHits: number
  #hits = 0

  constructor(options: AccessLogOptions, destination: DestinationStream) {
    this.#destination = destination
    this.#sampleHits = options.sampleHits
    // No pid or hostname per line: the process manager knows them; the line carries the request.
    this.#logger = pino({ base: null, messageKey: 'msg', timestamp: pino.stdTimeFunctions.isoTime }, destination)
  }

  write(line: AccessLine): void {
    if ((line.cache === 'HIT' || line.cache === 'STALE') && this.#hits++ % this.#sampleHits !== 0) return
    this.#logger.info(line, 'request')
  }

  /** Writes out what is buffered. */
  flush(): Promise<void> {
    const destination = this.#destination as DestinationStream & { flush?: (cb: (err?: Error) => void) => void }
    if (typeof destination.flush !== 'function') return Promise.resolve()
    return new Promise((resolve) => destination.flush?.(() => resolve()))
  }
}

/** stdout, written asynchronously: lines that come while a write is in flight go out together in the next. */
export function stdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: false })
}
