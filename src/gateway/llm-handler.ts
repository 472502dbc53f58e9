import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Cache } from '../cache/cache.js'
import type { CacheResult } from '../cache/types.js'
import { requestCacheKey } from '../llm/canonical.js'
import { costUsd } from '../llm/pricing.js'
import { replayAsSse } from '../llm/sse-replay.js'
import type { Completion } from '../llm/stream-assembler.js'
import type { Authenticator } from './auth.js'
import { type CachePolicy, cachePolicy } from './cache-policy.js'
import type { GatewayConfig } from './config.js'
import type { CostLedger } from './cost-ledger.js'
import type { GatewayLimits } from './limits.js'
import { GatewayHttpError } from './openai-errors.js'
import { rateLimited, rateLimitHeaders } from './ratelimit-headers.js'
import type { ModelRouter } from './router.js'
import { eventWriter, relayStream, startSse } from './sse-relay.js'
import type { StreamHub } from './stream-hub.js'
import { type LlmKind, validateBody, wantsUsage } from './validate.js'

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value) || undefined

export interface LlmContext {
  config: GatewayConfig
  router: ModelRouter
  auth: Authenticator
  cache: Cache
  hub: StreamHub
  limits: GatewayLimits
  ledger: CostLedger
}

const UPSTREAM_ROUTE: Record<LlmKind, string> = { chat: '/chat/completions', text: '/completions', embeddings: '/embeddings' }
const STATUS_HEADER: Record<CacheResult<unknown>['status'], string> = { hit: 'HIT', coalesced: 'HIT', stale: 'STALE', miss: 'MISS' }

/**
 * One LLM call through the gateway: validate, authenticate, route the model, then answer from the
 * cache (tenant-scoped, single-flight across instances) or from the upstream, streaming or not.
 */
export async function handleLlm(ctx: LlmContext, kind: LlmKind, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = validateBody(kind, request.body)
  const caller = ctx.auth.authenticate(request.headers.authorization)
  const route = ctx.router.resolve(body.model as string)
  if (!route) throw new GatewayHttpError(404, `The model \`${String(body.model)}\` does not exist or is not served by this gateway.`, { code: 'model_not_found', param: 'model' })
  const stream = body.stream === true && kind !== 'embeddings'
  // Streams always ask upstream for usage: cost accounting and the cached entry need it.
  const upstreamBody = { ...body, model: route.model, ...(stream ? { stream_options: { ...(body.stream_options as object), include_usage: true } } : {}) }
  const policy = cachePolicy(ctx.config, caller.tenant, request.headers, body)
  const textKind = kind === 'text' ? 'text' : 'chat'
  const includeUsage = wantsUsage(body)
  const user = typeof body.user === 'string' && body.user ? body.user : headerValue(request.headers['x-tollgate-user'])
  const charge = await ctx.limits.charge(caller, route.model, user, body)
  if (charge && !charge.decision.allowed) throw rateLimited(charge)
  const headers = charge ? rateLimitHeaders(charge) : {}
  /** Accounts for the reply once its usage is known: cost spent or saved, and the estimate reconciled. */
  const settle = (value: Completion | undefined, hit: boolean) => {
    const usage = value?.usage ?? undefined
    const usd = costUsd(ctx.limits.price(route.model), usage)
    if (value) ctx.ledger.record(caller.tenant, route.model, hit, usd, usage?.prompt_tokens ?? 0, usage?.completion_tokens ?? 0)
    // A hit or a failure used no upstream tokens: the whole estimate goes back.
    if (charge) ctx.limits.reconcile(charge, hit ? null : usage)
    return { [hit ? 'x-tollgate-saved-usd' : 'x-tollgate-cost-usd']: usd.toFixed(6) }
  }

  const key = requestCacheKey(UPSTREAM_ROUTE[kind], upstreamBody, route.model)
  const cache = ctx.cache.namespaced(policy.namespace)
  let streamedHere = false
  const load = async (): Promise<Completion> => {
    const response = await route.upstream.call(UPSTREAM_ROUTE[kind], upstreamBody, route.model)
    if (!stream || !response.contentType.includes('text/event-stream')) return (await response.body.json()) as Completion
    streamedHere = true
    void reply.hijack()
    startSse(reply.raw, policy.read || policy.write ? 'MISS' : 'BYPASS', 0, headers)
    const completion = await relayStream(response, ctx.hub, key, textKind, eventWriter(reply.raw, includeUsage))
    settle(completion, false)
    if (!completion) throw new GatewayHttpError(502, 'The upstream stream ended before every choice finished; nothing was cached.', { code: 'upstream_incomplete' })
    return completion
  }
  const reply200 = (value: Completion, status: string, age: number) => {
    const extra = streamedHere ? {} : settle(value, status !== 'MISS' && status !== 'BYPASS')
    send(reply, value, status, age, stream, textKind, includeUsage, { ...headers, ...extra })
  }

  try {
    if (!policy.read && !policy.write) {
      const value = await load()
      if (!streamedHere) reply200(value, 'BYPASS', 0)
      return
    }
    if (stream && policy.read) {
      const live = ctx.hub.get(key)
      if (live) {
        if (charge) ctx.limits.reconcile(charge, null)
        void reply.hijack()
        startSse(reply.raw, 'HIT', 0, headers)
        return live.follow(eventWriter(reply.raw, includeUsage))
      }
    }
    const result = policy.read ? await cache.getOrSetEntry(key, load, { ttl: policy.ttlMs, tags: policy.tags }) : await fresh(cache, key, load, policy)
    if (streamedHere) return
    if (policy.maxAgeMs !== undefined && result.status !== 'miss' && Date.now() - result.createdAt > policy.maxAgeMs) {
      const renewed = await fresh(cache, key, load, policy)
      if (!streamedHere) reply200(renewed.value, 'MISS', 0)
      return
    }
    const age = result.status === 'miss' ? 0 : Math.max(0, Math.floor((Date.now() - result.createdAt) / 1000))
    reply200(result.value, STATUS_HEADER[result.status], age)
  } catch (err) {
    if (charge && !streamedHere) ctx.limits.reconcile(charge, null)
    // Once the stream started, the status line is gone: the client has the bytes there were.
    if (streamedHere) {
      if (!reply.raw.writableEnded) reply.raw.end()
      return
    }
    throw err
  }
}

/** `no-cache` and an entry older than `max-age`: ask upstream, then store the answer. */
async function fresh(cache: Cache, key: string, load: () => Promise<Completion>, policy: CachePolicy): Promise<CacheResult<Completion>> {
  const value = await load()
  await cache.set(key, value, { ttl: policy.ttlMs, tags: policy.tags }).catch(() => {})
  return { value, status: 'miss', createdAt: Date.now() }
}

/**
 * JSON of a reply, once per cached object: an L1 hit hands out the same object every time, so its
 * serialization is kept beside it (weakly: it goes when L1 drops the entry) instead of redone per hit.
 */
const serialized = new WeakMap<object, string>()
function json(value: Completion): string {
  let text = serialized.get(value)
  if (text === undefined) {
    text = JSON.stringify(value)
    serialized.set(value, text)
  }
  return text
}

function send(reply: FastifyReply, value: Completion, status: string, age: number, stream: boolean, kind: 'chat' | 'text', includeUsage: boolean, headers: Record<string, string>): void {
  if (!stream) {
    void reply.headers(headers).header('x-tollgate-cache', status).header('age', String(age)).type('application/json; charset=utf-8').send(json(value))
    return
  }
  void reply.hijack()
  startSse(reply.raw, status, age, headers)
  for (const event of replayAsSse(value, kind, includeUsage)) reply.raw.write(event)
  reply.raw.end()
}
