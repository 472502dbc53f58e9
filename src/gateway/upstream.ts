import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import type { UpstreamConfig } from './config.js'
import { GatewayHttpError } from './openai-errors.js'

/** An upstream reply the gateway passes on as it is: status, body and the headers worth keeping. */
export class UpstreamReplyError extends GatewayHttpError {
  constructor(
    status: number,
    readonly payload: Buffer,
    readonly contentType: string,
  ) {
    super(status, `upstream answered ${status}`)
  }
}

export interface UpstreamResponse {
  status: number
  contentType: string
  body: AsyncIterable<Buffer> & { text(): Promise<string>; json(): Promise<unknown>; arrayBuffer(): Promise<ArrayBuffer>; dump(): Promise<void> }
}

/** Longest wait a Retry-After may impose before a retry; beyond it the 429/5xx goes to the client. */
const MAX_RETRY_WAIT_MS = 20_000
const RETRIED = (status: number) => status === 429 || status >= 500

/**
 * One OpenAI-compatible provider: a keep-alive connection pool to its origin and the calls to it,
 * retried on 429 and 5xx (honouring Retry-After) while nothing has been sent to the client yet.
 */
export class Upstream {
  readonly name: string
  readonly #pool: Pool
  readonly #base: URL

  constructor(readonly config: UpstreamConfig) {
    this.name = config.name
    this.#base = new URL(config.baseUrl)
    // Keep-alive is undici's default; the pool bounds connections per origin so a burst queues
    // instead of opening thousands of sockets to the provider.
    this.#pool = new Pool(this.#base.origin, { connections: 256, keepAliveTimeout: 30_000 })
  }

  /** POSTs (or GETs, without a body) `route` (e.g. `/chat/completions`); throws a GatewayHttpError on failure. */
  async call(route: string, body: unknown, model?: string, method: 'GET' | 'POST' = 'POST', contentType = 'application/json'): Promise<UpstreamResponse> {
    const path = this.#path(route, model)
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream' }
    if (body !== undefined) headers['content-type'] = contentType
    if (this.config.apiKey) {
      const header = this.config.apiKeyHeader.toLowerCase()
      headers[header] = header === 'authorization' ? `Bearer ${this.config.apiKey}` : this.config.apiKey
    }
    // Bytes (an uploaded file, a form) go as they came; anything else is JSON.
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body)
    for (let attempt = 0; ; attempt++) {
      let response: Awaited<ReturnType<Pool['request']>>
      try {
        response = await this.#pool.request({ path, method, headers, body: payload, headersTimeout: this.config.timeout, bodyTimeout: this.config.timeout })
      } catch (err) {
        const code = (err as { code?: string }).code ?? ''
        if (/TIMEOUT/.test(code)) {
          throw new GatewayHttpError(504, `upstream ${this.name} did not answer within ${this.config.timeout} ms`, { code: 'upstream_timeout' })
        }
        if (attempt < this.config.maxRetries) {
          await sleep(backoff(attempt))
          continue
        }
        throw new GatewayHttpError(502, `upstream ${this.name} could not be reached: ${(err as Error).message}`, { code: 'upstream_unreachable' })
      }
      const contentType = String(response.headers['content-type'] ?? 'application/json')
      if (response.statusCode < 400) return { status: response.statusCode, contentType, body: response.body }
      const wait = retryWait(response.headers, attempt)
      if (RETRIED(response.statusCode) && attempt < this.config.maxRetries && wait <= MAX_RETRY_WAIT_MS) {
        await response.body.dump()
        await sleep(wait)
        continue
      }
      throw new UpstreamReplyError(response.statusCode, Buffer.from(await response.body.arrayBuffer()), contentType)
    }
  }

  close(): Promise<void> {
    return this.#pool.close()
  }

  #path(route: string, model: string | undefined): string {
    // URL() keeps the placeholder percent-encoded in the path.
    const base = this.#base.pathname.replace(/\/$/, '').replace(/\{model\}|%7Bmodel%7D/i, encodeURIComponent(model ?? ''))
    const query = new URLSearchParams(this.config.query).toString()
    return `${base}${route}${query ? `?${query}` : ''}`
  }
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
