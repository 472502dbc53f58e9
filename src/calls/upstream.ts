import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { DEFAULTS } from '../core/defaults.js'
import { countJsonValues } from '../core/json-size.js'
import { UpstreamError } from '../core/errors.js'
import { TypedEmitter } from '../core/events.js'
import { ConnectionGate } from './connection-gate.js'
import type { UpstreamEvents } from './events.js'

/** One OpenAI-compatible provider, as the gateway config describes it. */
export interface UpstreamSpec {
  name: string
  /** OpenAI-compatible base URL, ending where `/chat/completions` is appended; may hold `{model}` (Azure). */
  baseUrl: string
  apiKey?: string | undefined
  /** Header the key goes in: `authorization` (as `Bearer <key>`) or e.g. `api-key` (Azure). */
  apiKeyHeader: string
  /** Query parameters added to every call (e.g. Azure's `api-version`). */
  query: Record<string, string>
  /** Model names this upstream serves; `*` matches any run of characters. */
  models: string[]
  aliases: Record<string, string>
  /** Longest wait for the headers, and between two pieces of the body. */
  timeout: number
  /** Retries of a 429 or 5xx (or a refused connection) before any byte reached the caller. */
  maxRetries: number
  /** Connections to the upstream's origin; calls beyond them wait (at most `timeout`) for one. Default 256. */
  connections?: number
  /** Connections one tenant may hold at once, so one tenant's calls cannot starve the others. Default all of them. */
  connectionsPerTenant?: number
  /** Largest reply read whole (a JSON completion) or relayed (a stream); past it the call fails with `E_UPSTREAM_TOO_LARGE`. Default 32 MiB. */
  maxReplyBytes?: number
  /** Largest error body read to pass on; a longer one is replaced by a note saying so. Default 64 KiB. */
  maxErrorBytes?: number
  /** Most JSON values (objects, arrays, strings, numbers) parsed from one reply or one stream event. Default 2,000,000. */
  maxReplyValues?: number
  /** Longest a whole call may take, from the wait for a connection to the last byte of the reply (ms). Default 10 min. */
  deadline?: number
}

export interface UpstreamRequest {
  /** Path under the base URL, e.g. `/chat/completions`. */
  route: string
  method?: string
  /** Bytes go as they are; anything else is sent as JSON. Undefined: no body. */
  body?: unknown
  contentType?: string
  /** Model spliced into a `{model}` base URL (encoded). */
  model?: string
  /** Extra query string (already encoded, without `?`), after the upstream's own parameters. */
  search?: string
  /** Client headers to forward (already filtered to a safe set by the caller). */
  headers?: Record<string, string>
  /** Aborts the call (and the reading of its body). */
  signal?: AbortSignal
  /** Aborts only the wait for a connection: a call not sent yet is dropped, one sent runs on. */
  queueSignal?: AbortSignal | undefined
  /** Retry a 429/5xx or a refused connection (`maxRetries`). Default true; off for non-idempotent pass-through. */
  retry?: boolean
  /** Whose call it is: a tenant holds at most `connectionsPerTenant` connections. */
  tenant: string
  /** Resolve with an error status's reply (its body unread) instead of throwing: pass-through streams it on. */
  errorsAsReplies?: boolean
}

export interface UpstreamResponse {
  status: number
  contentType: string
  headers: Record<string, string | string[] | undefined>
  body: Readable & AsyncIterable<Buffer>
}

/**
 * What the producer needs of an upstream: send a call, read a JSON reply within bounds, and name a
 * failure. The gateway's {@link Upstream} (an undici pool, retries, a connection gate) is one; the
 * openai SDK integration's, which sends through the SDK's own `fetch`, is another.
 */
export interface UpstreamClient {
  /** Named in errors and metrics. */
  readonly name: string
  /** Largest reply read whole or relayed (bytes). */
  readonly maxReplyBytes: number
  /** Most JSON values parsed from one reply or one stream event. */
  readonly maxReplyValues: number
  /** The options that set those two bounds, named in the errors past them. Default the gateway's config fields. */
  readonly boundNames?: { bytes: string; values: string }
  /** Sends a call; an error status, a timeout, an unreachable origin or an abort throw an {@link UpstreamError}. */
  call(request: UpstreamRequest): Promise<UpstreamResponse>
  /** The JSON of a reply, within `maxReplyBytes` and `maxReplyValues`. */
  readJson(response: UpstreamResponse): Promise<unknown>
  /** The {@link UpstreamError} for anything thrown while calling or reading. */
  failure(err: unknown): UpstreamError
}

/** Longest wait a Retry-After may impose before a retry; beyond it the 429/5xx goes to the caller. */
const MAX_RETRY_WAIT_MS = 20_000
const RETRIED = (status: number) => status === 429 || status >= 500
/**
 * What a model name spliced into a `{model}` path (Azure deployments) may hold: encoding alone would
 * not do, since an upstream or a proxy that decodes `%2F` or resolves `..` would turn it into a path.
 */
const SAFE_PATH_MODEL = /^[\w.:-]{1,128}$/
/** Upstream reply headers a client may see with an error: when to retry, and which request it was. */
const PASSED_ON = ['retry-after', 'retry-after-ms', 'x-request-id', 'request-id', 'openai-processing-ms']

/**
 * One OpenAI-compatible provider: a keep-alive connection pool to its origin and the calls to it,
 * retried on 429 and 5xx (honouring Retry-After) while nothing has been read from the reply yet.
 */
export class Upstream implements UpstreamClient {
  readonly name: string
  /** Retries, as they happen. */
  readonly events = new TypedEmitter<UpstreamEvents>()
  readonly #pool: Pool
  readonly #base: URL
  /** Who holds the connections, and who waits for one. */
  readonly gate: ConnectionGate
  readonly maxReplyBytes: number
  readonly #maxErrorBytes: number
  readonly #deadlineMs: number
  readonly maxReplyValues: number
  /** Whether the base URL takes the model in its path (`{model}`, Azure deployments); known once, asked on every call. */
  readonly modelInPath: boolean

  constructor(readonly config: UpstreamSpec) {
    this.name = config.name
    this.#base = new URL(config.baseUrl)
    this.modelInPath = /\{model\}|%7Bmodel%7D/i.test(this.#base.pathname)
    const connections = config.connections ?? DEFAULTS.upstream.connections
    this.maxReplyBytes = config.maxReplyBytes ?? DEFAULTS.upstream.maxReplyBytes
    this.#maxErrorBytes = config.maxErrorBytes ?? DEFAULTS.upstream.maxErrorBytes
    this.#deadlineMs = config.deadline ?? DEFAULTS.upstream.deadlineMs
    this.maxReplyValues = config.maxReplyValues ?? DEFAULTS.upstream.maxReplyValues
    // Keep-alive is undici's default. The gate keeps calls to at most `connections` at a time, shared
    // fairly between tenants, so the pool never queues and never opens more sockets than that.
    this.#pool = new Pool(this.#base.origin, { connections, keepAliveTimeout: 30_000 })
    this.gate = new ConnectionGate(config.name, connections, config.connectionsPerTenant ?? connections, config.timeout)
  }

  /**
   * Sends a request; resolves with a 2xx/3xx reply whose body is still to be read (it holds one of
   * the tenant's connections until it is read to the end or destroyed). An error status (after
   * retries), a timeout, an unreachable origin or an abort throw an {@link UpstreamError}.
   */
  async call(request: UpstreamRequest): Promise<UpstreamResponse> {
    // The deadline covers the whole call, the wait for a connection and the last byte of the body
    // included: `timeout` alone bounds only the gaps, and an upstream dripping a byte more often than
    // that (or a cacheable call nobody waits for) would hold a connection for ever.
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(new UpstreamError('E_UPSTREAM_TIMEOUT', this.name, `did not finish within its deadline of ${this.#deadlineMs} ms`)), this.#deadlineMs)
    const caller = request.signal
    const follow = () => deadline.abort(caller?.reason)
    if (caller?.aborted) follow()
    else caller?.addEventListener('abort', follow, { once: true })
    let release = () => {}
    const done = () => {
      clearTimeout(timer)
      caller?.removeEventListener('abort', follow)
      release()
    }
    try {
      try {
        // A free connection is taken at once: the signal for a wait (a controller and four listeners,
        // measured at a quarter of a miss's CPU) is made only for a call that has to wait.
        release = (!deadline.signal.aborted && !request.queueSignal?.aborted && this.gate.tryAcquire(request.tenant)) || (await this.gate.acquire(request.tenant, either(deadline.signal, request.queueSignal)))
      } catch (err) {
        const failure = this.failure(err)
        throw failure.code === 'E_UPSTREAM_ABORTED' ? new UpstreamError('E_UPSTREAM_ABORTED', this.name, 'dropped before it was sent: nobody waits for it any more', { cause: err, sent: false }) : failure
      }
      const response = await this.#send(request, deadline.signal)
      response.body.once('close', done)
      // A body already consumed or destroyed has closed before the listener: nothing would release it.
      if (response.body.destroyed) done()
      return response
    } catch (err) {
      done()
      throw this.failure(err)
    }
  }

  /**
   * The JSON of a reply, read within `maxReplyBytes` and parsed only if it holds at most
   * `maxReplyValues` values: `E_UPSTREAM_TOO_LARGE` past either, `E_UPSTREAM_INVALID` when it is not JSON.
   */
  readJson(response: UpstreamResponse): Promise<unknown> {
    return readReplyJson(this, response)
  }

  async #send(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const method = request.method ?? 'POST'
    const path = this.#path(request.route, request.model, request.search)
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream', ...request.headers }
    if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json'
    if (this.config.apiKey) {
      const header = this.config.apiKeyHeader.toLowerCase()
      headers[header] = header === 'authorization' ? `Bearer ${this.config.apiKey}` : this.config.apiKey
    }
    const payload = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : JSON.stringify(request.body)
    const maxRetries = request.retry === false ? 0 : this.config.maxRetries
    for (let attempt = 0; ; attempt++) {
      let response: Awaited<ReturnType<Pool['request']>>
      try {
        response = await this.#pool.request({
          path,
          method: method as 'POST',
          headers,
          body: payload,
          signal,
          headersTimeout: this.config.timeout,
          bodyTimeout: this.config.timeout,
        })
      } catch (err) {
        const failure = this.failure(err)
        if (failure.code !== 'E_UPSTREAM_UNREACHABLE' || attempt >= maxRetries) throw failure
        this.events.emit('retry', { upstream: this.name, reason: 'unreachable' })
        await sleep(backoff(attempt), undefined, { signal }).catch(() => {})
        if (signal.aborted) throw this.failure(signal.reason)
        continue
      }
      const contentType = String(response.headers['content-type'] ?? 'application/json')
      if (response.statusCode < 200 || response.statusCode > 599) {
        // Destroyed unread, undici reports the abort as an error event: nobody is there to hear it.
        response.body.on('error', () => {}).destroy()
        throw new UpstreamError('E_UPSTREAM_INVALID', this.name, `answered with status ${response.statusCode}, which is not an HTTP status`)
      }
      if (response.statusCode < 400 || request.errorsAsReplies) return { status: response.statusCode, contentType, headers: response.headers, body: response.body as UpstreamResponse['body'] }
      const wait = retryWait(response.headers, attempt)
      if (RETRIED(response.statusCode) && attempt < maxRetries && wait <= MAX_RETRY_WAIT_MS) {
        await response.body.dump().catch(() => {})
        this.events.emit('retry', { upstream: this.name, reason: response.statusCode === 429 ? 'status_429' : 'status_5xx' })
        await sleep(wait, undefined, { signal }).catch(() => {})
        if (signal.aborted) throw this.failure(signal.reason)
        continue
      }
      let body: Buffer | undefined
      try {
        body = await readUpTo(response.body, this.#maxErrorBytes)
      } catch (err) {
        throw this.failure(err)
      }
      const tooLong = `The upstream ${this.name} answered ${response.statusCode} with an error body over ${this.#maxErrorBytes} bytes (maxUpstreamErrorBytes); it was not read.`
      throw new UpstreamError('E_UPSTREAM_STATUS', this.name, `answered ${response.statusCode}`, {
        status: response.statusCode,
        body: body ?? Buffer.from(JSON.stringify({ error: { message: tooLong, type: 'api_error', param: null, code: 'upstream_error_too_large' } })),
        contentType: body ? contentType : 'application/json',
        headers: passedOn(response.headers),
      })
    }
  }

  /** The {@link UpstreamError} for an exception thrown while calling or reading: timeout, abort or unreachable. */
  failure(err: unknown): UpstreamError {
    return upstreamFailure(this.name, this.config.timeout, err)
  }

  close(): Promise<void> {
    return this.#pool.close()
  }

  /** Whether `model` can be spliced into this upstream's `{model}` path as one plain segment (always, without one). */
  acceptsModel(model: string): boolean {
    return !this.modelInPath || (SAFE_PATH_MODEL.test(model) && model !== '.' && model !== '..')
  }


  #path(route: string, model: string | undefined, search: string | undefined): string {
    // URL() keeps the placeholder percent-encoded in the path.
    const base = this.#base.pathname.replace(/\/$/, '').replace(/\{model\}|%7Bmodel%7D/i, encodeURIComponent(model ?? ''))
    const query = [new URLSearchParams(this.config.query).toString(), search ?? ''].filter(Boolean).join('&')
    return `${base}${route}${query ? `?${query}` : ''}`
  }
}

/** A signal aborted when either is (with its reason); `a` itself without `b`. */
function either(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  if (!b) return a
  const both = new AbortController()
  const follow = (signal: AbortSignal) => () => both.abort(signal.reason)
  for (const signal of [a, b]) {
    if (signal.aborted) follow(signal)()
    else signal.addEventListener('abort', follow(signal), { once: true, signal: both.signal })
  }
  return both.signal
}

/**
 * The JSON of a reply, read within `maxReplyBytes` (the body is dropped past it, before a reply of any
 * size is held in memory) and parsed only if it holds at most `maxReplyValues` values:
 * `E_UPSTREAM_TOO_LARGE` past either, `E_UPSTREAM_INVALID` when it is not JSON.
 */
export async function readReplyJson(upstream: Pick<UpstreamClient, 'name' | 'maxReplyBytes' | 'maxReplyValues' | 'boundNames'>, response: UpstreamResponse): Promise<unknown> {
  const names = boundNamesOf(upstream)
  const body = await readUpTo(response.body, upstream.maxReplyBytes)
  if (!body) throw new UpstreamError('E_UPSTREAM_TOO_LARGE', upstream.name, `answered ${response.status} with a reply over ${names.bytes} (${upstream.maxReplyBytes} bytes); it was dropped and not cached`)
  const text = body.toString('utf8')
  if (countJsonValues(text, upstream.maxReplyValues) > upstream.maxReplyValues) {
    throw new UpstreamError('E_UPSTREAM_TOO_LARGE', upstream.name, `answered ${response.status} with more than ${upstream.maxReplyValues} JSON values (${names.values}); it was not parsed`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new UpstreamError('E_UPSTREAM_INVALID', upstream.name, `answered ${response.status} with a body that is not JSON (${response.contentType})`)
  }
}

const GATEWAY_BOUND_NAMES = { bytes: 'maxUpstreamReplyBytes', values: 'maxUpstreamReplyValues' }

/** The options an upstream's reply bounds are set by, as its errors name them. */
export function boundNamesOf(upstream: Pick<UpstreamClient, 'boundNames'>): { bytes: string; values: string } {
  return upstream.boundNames ?? GATEWAY_BOUND_NAMES
}

/** The {@link UpstreamError} for an exception thrown while calling `name` or reading its reply: timeout, abort or unreachable. */
export function upstreamFailure(name: string, timeoutMs: number | undefined, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err
  const code = (err as { code?: string; name?: string })?.code ?? ''
  const errName = (err as { name?: string })?.name ?? ''
  if (/TIMEOUT/.test(code) || errName === 'TimeoutError') return new UpstreamError('E_UPSTREAM_TIMEOUT', name, timeoutMs === undefined ? 'did not answer in time' : `did not answer within ${timeoutMs} ms`, { cause: err })
  if (errName === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return new UpstreamError('E_UPSTREAM_ABORTED', name, 'call aborted: nobody needs its answer any more', { cause: err })
  return new UpstreamError('E_UPSTREAM_UNREACHABLE', name, `could not be reached: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

/** The body of a reply, or undefined (the body destroyed) as soon as it runs past `max` bytes. */
export async function readUpTo(body: UpstreamResponse['body'], max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.byteLength
    if (size > max) {
      body.destroy()
      return undefined
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

/** The headers of an upstream reply that a client may be shown with an error it caused upstream. */
export function passedOn(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const kept: Record<string, string> = {}
  for (const name of PASSED_ON) {
    const value = headers[name]
    if (typeof value === 'string') kept[name] = value
  }
  return kept
}

function backoff(attempt: number): number {
  return Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2)
}

/** Retry-After in seconds or as an HTTP date, or OpenAI's retry-after-ms; else exponential backoff. */
function retryWait(headers: Record<string, string | string[] | undefined>, attempt: number): number {
  const ms = Number(headers['retry-after-ms'])
  if (Number.isFinite(ms) && ms >= 0) return ms
  const value = headers['retry-after']
  if (typeof value === 'string') {
    const seconds = Number(value)
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
    const date = Date.parse(value)
    if (Number.isFinite(date)) return Math.max(0, date - Date.now())
  }
  return backoff(attempt)
}
