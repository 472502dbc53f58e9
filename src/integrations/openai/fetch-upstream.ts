import { Readable } from 'node:stream'
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
}

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
  readonly #target: FetchTarget
  readonly #maxErrorBytes: number

  constructor(target: FetchTarget, bounds: FetchBounds) {
    this.#target = target
    this.name = new URL(target.url).host
    this.maxReplyBytes = bounds.maxReplyBytes
    this.maxReplyValues = bounds.maxReplyValues
    this.#maxErrorBytes = bounds.maxErrorBytes
  }

  async call(request: UpstreamRequest): Promise<UpstreamResponse> {
    const { fetch, url, init, headers } = this.#target
    let response: Response
    try {
      response = await fetch(url, { ...init, method: 'POST', headers, body: JSON.stringify(request.body), signal: request.signal ?? null })
    } catch (err) {
      throw this.failure(err)
    }
    const contentType = response.headers.get('content-type') ?? 'application/json'
    const body = response.body ? Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>) : Readable.from([])
    const replyHeaders = Object.fromEntries(response.headers)
    if (response.ok) return { status: response.status, contentType, headers: replyHeaders, body }
    let error: Buffer | undefined
    try {
      error = await readUpTo(body, this.#maxErrorBytes)
    } catch (err) {
      throw this.failure(err)
    }
    // The body is sent again whole, so its length and encoding are the synthetic response's own.
    delete replyHeaders['content-length']
    delete replyHeaders['content-encoding']
    throw new UpstreamError('E_UPSTREAM_STATUS', this.name, `answered ${response.status}`, {
      status: response.status,
      body: error ?? Buffer.from(JSON.stringify({ error: { message: `${this.name} answered ${response.status} with an error body over ${this.#maxErrorBytes} bytes (maxErrorBytes); it was not read.`, type: 'api_error', param: null, code: 'upstream_error_too_large' } })),
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
