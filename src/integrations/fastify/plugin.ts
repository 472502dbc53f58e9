import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { z } from 'zod'
import { DEFAULTS } from '../../core/defaults.js'
import { InvalidOptionError } from '../../core/errors.js'
import { parseOptions } from '../../core/options.js'
import { defaultClientKey } from '../http/client-key.js'
import { HttpLimit, inWords, LimiterPool, type LimitRules, pickRules, tooManyRequestsBody } from '../http/http-limiter.js'
import { HeadersSentError, HttpSessions } from '../http/http-session.js'
import { ResponseCache } from '../http/response-cache.js'
import { type RateLimitContext, pluginSchema, routeCacheConfigSchema, routeLimitSchema, type TollgateFastifyOptions } from './options.js'

type Parsed = z.output<typeof pluginSchema>
type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>
type SendHook = (request: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown>

/** Adds a route-level hook after the route's own, so authentication in its hooks runs first. */
function appendHook(route: RouteOptions, name: string, hook: Hook | SendHook): void {
  const hooks = route as unknown as Record<string, unknown>
  const existing = hooks[name]
  hooks[name] = Array.isArray(existing) ? [...existing, hook] : existing ? [existing, hook] : [hook]
}

/** A route's rules: its own when it names any (a window it leaves out is the plugin's), else the plugin's. */
function routeRules(global: LimitRules, route: LimitRules): LimitRules {
  if (Object.keys(route).length === 0) return global
  if (route.rules || global.rules) return route
  return { window: global.window, ...route }
}

function limitHook(limit: HttpLimit<FastifyRequest>, options: Parsed): Hook {
  return async (request, reply) => {
    const verdict = await limit.check(request)
    if (!verdict.counted) return
    for (const [name, value] of verdict.headers) reply.header(name, value)
    if (verdict.decision.allowed) return
    options.onExceeded?.(request, verdict.key, verdict.decision)
    const context: RateLimitContext = { statusCode: 429, key: verdict.key, decision: verdict.decision, retryAfter: verdict.retryAfter, after: inWords(verdict.retryAfter) }
    const body = options.errorResponseBuilder ? await options.errorResponseBuilder(request, context) : tooManyRequestsBody(verdict.retryAfter)
    const status = (body as { statusCode?: unknown } | null)?.statusCode
    reply.code(typeof status === 'number' && status >= 400 && status < 600 ? status : 429)
    return reply.send(body)
  }
}

/** The lookup of a cached route, read by its onSend hook. */
const lookups = new WeakMap<FastifyRequest, Awaited<ReturnType<ResponseCache['lookup']>>>()

function cacheHooks(cache: ResponseCache): { preHandler: Hook; onSend: SendHook } {
  const status = (reply: FastifyReply, value: string) => cache.statusHeader && reply.header(cache.statusHeader, value)
  return {
    async preHandler(request, reply) {
      const lookup = await cache.lookup(request.method, request.url, request.headers)
      lookups.set(request, lookup)
      if (lookup.state !== 'hit') return
      reply.code(lookup.status)
      for (const [name, value] of lookup.headers) reply.header(name, value)
      reply.header('age', String(lookup.age))
      status(reply, 'HIT')
      return reply.send(lookup.body)
    },
    async onSend(request, reply, payload) {
      const lookup = lookups.get(request)
      if (!lookup || lookup.state === 'hit') return payload
      if (lookup.state === 'bypass') {
        status(reply, 'BYPASS')
        return payload
      }
      const vary = cache.vary(reply.getHeader('vary'))
      if (vary) reply.header('vary', vary)
      status(reply, 'MISS')
      if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
        try {
          await cache.store(lookup.key, reply.statusCode, reply.getHeaders(), payload)
        } catch (err) {
          request.log.warn({ err }, 'tollgate: response not cached')
        }
      }
      return payload
    },
  }
}

async function tollgate(fastify: FastifyInstance, input: TollgateFastifyOptions): Promise<void> {
  const options = parseOptions(pluginSchema, input)
  const pool = new LimiterPool({ store: options.store, namespace: options.namespace, onStoreError: options.onStoreError, instances: options.instances, logger: options.logger ?? fastify.log })
  const globalRules = pickRules(options)
  if (globalRules.limit === undefined && globalRules.rules === undefined) globalRules.limit = DEFAULTS.http.fastifyLimit
  if (globalRules.window === undefined && globalRules.rules === undefined) globalRules.window = DEFAULTS.http.windowMs
  const headers = { standard: options.standardHeaders, legacy: options.legacyHeaders ? ('delta-seconds' as const) : false as const }
  const keyGenerator = options.keyGenerator ?? ((request: FastifyRequest) => defaultClientKey(request as { user?: unknown }, request.ip))
  const hooks = { keyGenerator, allowList: options.allowList, skip: options.skip }
  // Made now, so that bad rules throw at registration; routes without their own limit share it.
  const globalLimit = new HttpLimit<FastifyRequest>(pool.limiterFor(globalRules, ''), hooks, headers)
  const responseCache = options.cache && new ResponseCache(options.cache)
  const sessions = options.sessions && new HttpSessions(options.sessions)

  fastify.addHook('onRoute', (route) => {
    const where = `config of ${Array.isArray(route.method) ? route.method.join(',') : route.method} ${route.url}`
    const config = route.config as { rateLimit?: unknown; cache?: unknown } | undefined
    if (config?.rateLimit !== undefined && config.rateLimit !== false) {
      if (config.rateLimit === null || typeof config.rateLimit !== 'object') throw new InvalidOptionError(`${where}.rateLimit`, config.rateLimit, 'an object of limit options, or false')
      const own = parseOptions(routeLimitSchema, config.rateLimit, `${where}.rateLimit`)
      const limiter = pool.limiterFor(routeRules(globalRules, pickRules(own)), `${where}.rateLimit`)
      const scope = own.groupId ? `group:${own.groupId}` : `route:${route.method}:${route.url}`
      const routeHooks = { keyGenerator: own.keyGenerator ?? keyGenerator, allowList: own.allowList ?? options.allowList, skip: own.skip ?? options.skip }
      appendHook(route, options.hook, limitHook(new HttpLimit<FastifyRequest>(limiter, routeHooks, headers, scope), options))
    } else if (config?.rateLimit === undefined && options.global) {
      appendHook(route, options.hook, limitHook(globalLimit, options))
    }
    const cacheConfig = config?.cache === undefined ? undefined : parseOptions(routeCacheConfigSchema, config.cache, `${where}.cache`)
    const cached = cacheConfig === undefined ? options.cache?.global : cacheConfig !== false
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (cached && methods.includes('GET')) {
      if (!responseCache) throw new InvalidOptionError(`${where}.cache`, config?.cache, 'the plugin registered with a cache option first')
      const { preHandler, onSend } = cacheHooks(typeof cacheConfig === 'object' ? responseCache.withRoute(cacheConfig) : responseCache)
      appendHook(route, 'preHandler', preHandler)
      appendHook(route, 'onSend', onSend)
    }
  })

  if (sessions) {
    fastify.decorateRequest('session', null as never)
    fastify.addHook('onRequest', async (request, reply) => {
      request.session = sessions.forRequest(request.headers.cookie, request.protocol === 'https', (cookie) => {
        if (reply.sent || reply.raw.headersSent) throw new HeadersSentError()
        reply.header('set-cookie', cookie)
      })
    })
  }

  // Only what the plugin made: the user's store, cache and session store stay open.
  fastify.addHook('onClose', async () => {
    await pool.close()
    await sessions?.close()
  })
}

/**
 * Rate limits, response caching and sessions for Fastify, over tollgate's stores. Register it (and
 * `await` it) before the routes it should apply to; with fastify-plugin, it applies to routes of the
 * context it is registered in and its children.
 */
export const tollgatePlugin = fp(tollgate, { fastify: '5.x', name: 'tollgate' })
