import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CostLedger } from '../calls/cost-ledger.js'
import type { CallLimits } from '../calls/limits.js'
import { globToRegExp } from '../calls/router.js'
import type { Upstream } from '../calls/upstream.js'
import type { Caller } from '../calls/types.js'
import { GatewayHttpError } from './openai-errors.js'
import { rateLimited, rateLimitHeaders } from './ratelimit-headers.js'
import { clientGone } from './responders.js'

/** Client headers an upstream may see: what the request is and which API beta it speaks. Never credentials, cookies or tollgate's own. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'openai-beta', 'idempotency-key']
/** Upstream reply headers a client may see: what the body is, and the upstream's request id and pacing. */
const FORWARDED_REPLY_HEADERS = ['content-disposition', 'x-request-id', 'request-id', 'openai-processing-ms', 'openai-version', 'retry-after', 'retry-after-ms']

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
  ) {
    this.#patterns = patterns.map((pattern) => ({ pattern, regexp: globToRegExp(pattern) }))
  }

  async handle(caller: Caller, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const url = request.url
    const queryAt = url.indexOf('?')
    const path = queryAt === -1 ? url : url.slice(0, queryAt)
    const allowed = this.#patterns.find(({ regexp }) => regexp.test(path))
    if (!allowed || !this.upstream) {
      throw new GatewayHttpError(404, `${request.method} ${path} is not served by this gateway (only the LLM routes and the paths listed under passThrough are).`, { code: 'not_found' })
    }
    const body = request.body
    const model = body && typeof body === 'object' && !Buffer.isBuffer(body) && typeof (body as { model?: unknown }).model === 'string' ? (body as { model: string }).model : '-'
    const charge = await this.limits?.charge(caller, model, undefined, undefined, 0, 0)
    if (charge && !charge.decision.allowed) throw rateLimited(charge)
    const headers: Record<string, string> = {}
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const response = await this.upstream.call({
      route: path.slice('/v1'.length),
      method: request.method,
      body: body === undefined || body === null ? undefined : body,
      contentType: typeof request.headers['content-type'] === 'string' ? request.headers['content-type'] : undefined,
      search: queryAt === -1 ? undefined : url.slice(queryAt + 1),
      headers,
      signal: clientGone(reply),
      retry: request.method === 'GET' || request.method === 'HEAD',
    })
    this.ledger.record(caller.tenant, `pass-through ${allowed.pattern}`, false, 0, 0, 0)
    if (charge) void reply.headers(rateLimitHeaders(charge))
    for (const name of FORWARDED_REPLY_HEADERS) {
      const value = response.headers[name]
      if (typeof value === 'string') void reply.header(name, value)
    }
    return reply.status(response.status).type(response.contentType).header('x-tollgate-cache', 'BYPASS').send(response.body)
  }
}
