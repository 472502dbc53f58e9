import { Readable, Transform } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { UpstreamError } from '../../core/errors.js'
import { readReplyJson, readUpTo, type UpstreamClient, type UpstreamRequest, type UpstreamResponse, upstreamFailure } from '../../calls/upstream.js'

/** The fetch an SDK client would have used, and what it was about to send. */
export interface FetchTarget {
  fetch: typeof globalThis.fetch
  url: string
  /** The SDK's request options: its headers (the API key among them) and fetch options go as they came. */
  init: RequestInit
  headers: Headers
}

export interface FetchBounds {
  maxReplyBytes: number
  maxReplyValues: number
  maxErrorBytes: number
  /** Longest wait for the headers, and between two pieces of the body (ms). */
  timeoutMs: number
  /** Longest the whole call may take, to the last byte (ms). */
  deadlineMs: number
}

const BOUND_NAMES = { bytes: 'maxReplyBytes', values: 'maxReplyValues' }

/**
 * The upstream of one SDK call: the producer's request sent through the SDK's own `fetch`, to the URL
 * and with the headers the SDK chose. It does not retry: the SDK retries what it sees fail, so an
 * error status goes back to it as it came (with every header, `retry-after` and `x-request-id` among
 * them) and the SDK's own retry and error classes decide, as they would without tollgate.
 */
export class FetchUpstream implements UpstreamClient {
  readonly name: string
  readonly maxReplyBytes: number
  readonly maxReplyValues: number
  readonly boundNames = BOUND_NAMES
  readonly #target: FetchTarget
  readonly #bounds: FetchBounds

  constructor(target: FetchTarget, bounds: FetchBounds) {
    this.#target = target
    this.name = new URL(target.url).host
    this.maxReplyBytes = bounds.maxReplyBytes
    this.maxReplyValues = bounds.maxReplyValues
    this.#bounds = bounds
  }

  /**
   * Sends the call with its own timeouts: the SDK's end when its caller gives up, but a call the
   * cache still wants runs on for the callers that joined it, and must not run for ever on a
   * provider that stalled (they would all wait on it, and the process could not exit).
   */
  async call(request: UpstreamRequest): Promise<UpstreamResponse> {
    const { fetch, url, init, headers } = this.#target
    const { timeoutMs, deadlineMs } = this.#bounds
    const abort = new AbortController()
    const caller = request.signal
    const follow = () => abort.abort(caller?.reason)
    if (caller?.aborted) follow()
    else caller?.addEventListener('abort', follow, { once: true })
    const deadline = setTimeout(() => abort.abort(new UpstreamError('E_UPSTREAM_TIMEOUT', this.name, `did not finish within its deadline of ${deadlineMs} ms`)), deadlineMs)
    let idle: NodeJS.Timeout | undefined
    const rearm = () => {
      clearTimeout(idle)
      idle = setTimeout(() => abort.abort(new UpstreamError('E_UPSTREAM_TIMEOUT', this.name, `sent nothing for ${timeoutMs} ms (timeout)`)), timeoutMs)
    }
    const done = () => {
      clearTimeout(deadline)
      clearTimeout(idle)
      caller?.removeEventListener('abort', follow)
    }
    rearm()
    let response: Response
    try {
      response = await fetch(url, { ...init, method: 'POST', headers, body: JSON.stringify(request.body), signal: abort.signal })
    } catch (err) {
      done()
      throw this.failure(abort.signal.reason instanceof UpstreamError ? abort.signal.reason : err)
    }
    rearm()
    const contentType = response.headers.get('content-type') ?? 'application/json'
    const source = response.body ? Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>) : Readable.from([])
    // Every piece of the body puts the gap timeout off again; a stall past it aborts the fetch, whose body then fails with the timeout.
    const body = source.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          rearm()
          callback(null, chunk)
        },
      }),)
    source.once('error', (err) => body.destroy(abort.signal.reason instanceof UpstreamError ? abort.signal.reason : err))
    body.once('close', () => {
      done()
      source.destroy()
    })
    const replyHeaders = Object.fromEntries(response.headers)
    if (response.ok) return { status: response.status, contentType, headers: replyHeaders, body }
    let error: Buffer | undefined
    try {
      error = await readUpTo(body, this.#bounds.maxErrorBytes)
    } catch (err) {
      throw this.failure(err)
    }
    // The body is sent again whole, so its length and encoding are the synthetic response's own.
    delete replyHeaders['content-length']
    delete replyHeaders['content-encoding']
    throw new UpstreamError('E_UPSTREAM_STATUS', this.name, `answered ${response.status}`, {
      status: response.status,
      body: error ?? Buffer.from(JSON.stringify({ error: { message: `${this.name} answered ${response.status} with an error body over ${this.#bounds.maxErrorBytes} bytes (maxErrorBytes); it was not read.`, type: 'api_error', param: null, code: 'upstream_error_too_large' } })),
      contentType: error ? contentType : 'application/json',
      headers: replyHeaders,
    })
  }

  readJson(response: UpstreamResponse): Promise<unknown> {
    return readReplyJson(this, response)
  }

  failure(err: unknown): UpstreamError {
    return upstreamFailure(this.name, undefined, err)
  }
}
