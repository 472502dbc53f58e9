import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CostLedger } from '../calls/cost-ledger.js'
import type { CallLimits } from '../calls/limits.js'
import { globToRegExp } from '../calls/router.js'
import type { Upstream } from '../calls/upstream.js'
import type { Caller } from '../calls/types.js'
import { GatewayHttpError } from './openai-errors.js'
import { rateLimited, rateLimitHeaders } from './ratelimit-headers.js'
import { clientGone } from './responders.js'

/** The model scope pass-through requests count under (their bodies are not read). */
const PASS_THROUGH_MODEL = '(pass-through)'
/** Client headers an upstream may see: what the request is and which API beta it speaks. Never credentials, cookies or tollgate's own. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'openai-beta', 'idempotency-key']
/**
 * The gateway's own `/v1` routes and the one method each serves. A spelling of one of them
 * (`/v1/chat/completions/`, `/v1/Chat/completions;x`) is never pass-through, or it would escape their limits.
 */
export const LLM_ROUTES = new Map<string, string>([
  ['/v1/chat/completions', 'POST'],
  ['/v1/completions', 'POST'],
  ['/v1/embeddings', 'POST'],
  ['/v1/models', 'GET'],
])
/** Upstream reply headers a client may see: what the body is (its encoding too: it is relayed as it came), and the upstream's request id and pacing. */
const FORWARDED_REPLY_HEADERS = ['content-encoding', 'content-disposition', 'x-request-id', 'request-id', 'openai-processing-ms', 'openai-version', 'retry-after', 'retry-after-ms']

/**
 * Why a pass-through path is refused, or undefined. Dot segments (raw or percent-encoded), encoded
 * slashes and backslashes, backslashes and empty segments are refused rather than normalised: an
 * upstream or a proxy in front of it may resolve them differently from us, and the allowlist must
 * mean the path the upstream serves.
 */
export function unsafePath(path: string): string | undefined {
  if (/%2f|%5c|\\/i.test(path)) return 'an encoded slash or a backslash'
  const segments = path.split('/').slice(1)
  const decoded: string[] = []
  for (const [i, segment] of segments.entries()) {
    if (segment === '' && i < segments.length - 1) return 'an empty segment (//)'
    let text: string
    try {
      text = decodeURIComponent(segment)
    } catch {
      return 'invalid percent-encoding'
    }
    if (text === '.' || text === '..') return 'a dot segment'
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(text)) return 'a control character'
    // Compared as servers may resolve it: `;parameters` dropped, compatibility forms folded (`ſ` is an
    // `s`), case ignored, and every character but letters and digits gone (trailing dots, spaces,
    // zero-width or other punctuation). An API path that differs from an LLM route only in those is one.
    decoded.push(
      text
        .replace(/;.*$/s, '')
        .normalize('NFKC')
        .toLowerCase()
        .replace(/[^a-z0-9]/g, ''),
    )
  }
  const canonical = `/${decoded.join('/')}`.replace(/\/$/, '')
  if (LLM_ROUTES.has(canonical)) return `another spelling of ${canonical}`
  return undefined
}

/**
 * `/v1/*` routes other than the LLM ones, forwarded to the first upstream only when the config's
 * `passThrough` allowlist names them; each forwarded request counts against the caller's request
 * limits, is recorded in the ledger under its pattern, and streams both ways.
 */
export class PassThrough {
  readonly #patterns: Array<{ pattern: string; regexp: RegExp }>

  constructor(
    patterns: readonly string[],
    private readonly upstream: Upstream | undefined,
    private readonly limits: CallLimits | undefined,
    private readonly ledger: CostLedger,
    private readonly exposeCacheHeaders: boolean,
  ) {
    this.#patterns = patterns.map((pattern) => ({ pattern, regexp: globToRegExp(pattern) }))
  }

  async handle(caller: Caller, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const url = request.url
    const queryAt = url.indexOf('?')
    const path = queryAt === -1 ? url : url.slice(0, queryAt)
    const unsafe = unsafePath(path)
    if (unsafe) throw new GatewayHttpError(400, `The path ${path} has ${unsafe}; send the path itself.`, { code: 'invalid_path' })
    const allowed = this.#patterns.find(({ regexp }) => regexp.test(path))
    if (!allowed || !this.upstream) {
      throw new GatewayHttpError(404, `${request.method} ${path} is not served by this gateway (only the LLM routes and the paths listed under passThrough are).`, { code: 'not_found' })
    }
    // Bytes as the client sent them (this route's body parser reads everything as a Buffer).
    const body = Buffer.isBuffer(request.body) && request.body.byteLength > 0 ? request.body : undefined
    const charge = await this.limits?.charge(caller, PASS_THROUGH_MODEL, undefined, undefined, 0, 0)
    if (charge && !charge.decision.allowed) throw rateLimited(charge)
    const headers: Record<string, string> = {}
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const response = await this.upstream.call({
      route: path.slice('/v1'.length),
      method: request.method,
      body,
      contentType: typeof request.headers['content-type'] === 'string' ? request.headers['content-type'] : undefined,
      search: queryAt === -1 ? undefined : url.slice(queryAt + 1),
      headers,
      signal: clientGone(reply),
      retry: request.method === 'GET' || request.method === 'HEAD',
      tenant: caller.tenant,
      // The upstream's error replies stream on as they came, never read whole into the gateway.
      errorsAsReplies: true,
    })
    this.ledger.record(caller.tenant, `pass-through ${allowed.pattern}`, false, 0, 0, 0)
    if (charge) void reply.headers(rateLimitHeaders(charge))
    for (const name of FORWARDED_REPLY_HEADERS) {
      const value = response.headers[name]
      if (typeof value === 'string') void reply.header(name, value)
    }
    if (this.exposeCacheHeaders) void reply.header('x-tollgate-cache', 'BYPASS')
    return reply.status(response.status).type(response.contentType).send(response.body)
  }
}
