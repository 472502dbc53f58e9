import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Charge } from '../calls/limits.js'
import type { CallProducer } from '../calls/producer.js'
import type { ModelRouter, Route } from '../calls/router.js'
import type { CachePolicy, CallKind, CallOutcome, CallRequest, Caller } from '../calls/types.js'
import { RateLimitedError } from '../core/errors.js'
import { cachePolicy } from './cache-policy.js'
import type { GatewayConfig } from './config.js'
import { GatewayHttpError } from './openai-errors.js'
import { rateLimited, rateLimitHeaders } from './ratelimit-headers.js'
import { clientGone, isGone, sendJson, sendSse } from './responders.js'
import type { ParsedBodies } from './parsed-bodies.js'
import { validateBody } from './validate.js'

export interface LlmRouteDeps {
  config: GatewayConfig
  router: ModelRouter
  producer: CallProducer
  /** Each answered request's call, for the metrics and the access log taken once its reply is sent. */
  calls?: WeakMap<FastifyRequest, CallRecord> | undefined
  /** Bodies seen a moment ago, parsed and checked once. */
  bodies?: ParsedBodies | undefined
}

/** What the metrics and the access log learn of a request's call. */
export interface CallRecord {
  outcome: CallOutcome
  /** The model as the upstream knows it (aliases resolved). */
  model: string
  upstream: string
}

/**
 * A call as HTTP hands it over. Its signal is made only when asked for: only a call that goes
 * upstream needs one, and a hit should not pay for it. The getter lives on the prototype on purpose:
 * an object literal with a getter of its own cost every hit a quarter of its speed (measured), as it
 * made every read of the call's fields slow.
 */
class HttpCall implements CallRequest {
  #gone: AbortSignal | undefined

  constructor(
    readonly kind: CallKind,
    readonly body: Record<string, unknown>,
    readonly route: Route,
    readonly caller: Caller,
    readonly user: string | undefined,
    readonly policy: CachePolicy,
    readonly keyMemo: Map<string, string> | undefined,
    private readonly reply: FastifyReply,
  ) {}

  get signal(): AbortSignal {
    this.#gone ??= clientGone(this.reply)
    return this.#gone
  }
}

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value) || undefined

/**
 * One LLM call over HTTP: the request becomes a producer call (body validated, model routed, cache
 * controls read, the end user found), and the producer's outcome becomes a JSON or SSE reply.
 */
export async function handleLlm(deps: LlmRouteDeps, kind: CallKind, caller: Caller, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const memo = deps.bodies?.memoOf(request.body)
  const body = memo?.validatedAs === kind ? (request.body as Record<string, unknown>) : validateBody(kind, request.body, deps.config.server.maxJsonDepth)
  if (memo) memo.validatedAs = kind
  const route = deps.router.resolve(body.model as string)
  if (!route) throw new GatewayHttpError(404, `The model \`${String(body.model)}\` does not exist or is not served by this gateway.`, { code: 'model_not_found', param: 'model' })
  if (!route.upstream.acceptsModel(route.model)) throw new GatewayHttpError(400, 'model must be letters, digits, _ . : - (at most 128) for this upstream, which takes it in its path.', { code: 'invalid_model', param: 'model' })
  const user = typeof body.user === 'string' && body.user ? body.user : headerValue(request.headers['x-tollgate-user'])
  const policy = cachePolicy(deps.config, caller, user, request.headers, body)
  let outcome: CallOutcome
  try {
    outcome = await deps.producer.start(new HttpCall(kind, body, route, caller, user, policy, memo?.keys, reply))
  } catch (err) {
    if (err instanceof RateLimitedError) throw rateLimited(err.charge as Charge)
    throw err
  }
  deps.calls?.set(request, { outcome, model: route.model, upstream: route.upstream.name })
  // The client left while the answer was coming: nobody to send it to (a live stream goes on only for the cache).
  if (isGone(reply)) {
    outcome.abandon()
    return reply
  }
  const headers = outcome.charge ? rateLimitHeaders(outcome.charge) : {}
  if (deps.config.cache.exposeHeaders) addCacheHeaders(headers, outcome)
  if (body.stream === true && kind !== 'embeddings') return sendSse(reply, outcome, headers)
  return sendJson(reply, outcome.completion ?? {}, headers)
}

function addCacheHeaders(headers: Record<string, string>, outcome: CallOutcome): void {
  headers['x-tollgate-cache'] = outcome.cache
  headers['x-tollgate-cache-key'] = outcome.cacheKey
  headers.age = String(outcome.ageSeconds)
  if (outcome.costUsd !== undefined) headers['x-tollgate-cost-usd'] = outcome.costUsd.toFixed(6)
  if (outcome.savedUsd !== undefined) headers['x-tollgate-saved-usd'] = outcome.savedUsd.toFixed(6)
}
