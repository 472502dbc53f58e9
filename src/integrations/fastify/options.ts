import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { RateLimiterLogger } from '../../ratelimit/options.js'
import type { RateLimitDecision } from '../../ratelimit/types.js'
import type { Store } from '../../stores/types.js'
import { allowListShape, fn, type LimitRules, renamed, ruleShape, sharedShape } from '../http/http-limiter.js'
import type { RequestSession, SessionOptions } from '../http/http-session.js'
import { sessionSchema } from '../http/http-session.js'
import type { HeadersDraft } from '../http/rate-limit-headers.js'
import { type ResponseCacheOptions, responseCacheShape, routeCacheSchema } from '../http/response-cache.js'
import type { Duration } from '../../core/duration.js'

/** What `errorResponseBuilder` learns of a refusal. */
export interface RateLimitContext {
  /** 429. */
  statusCode: number
  /** The key the request counted under. */
  key: string
  /** The limiter's decision (every rule, what remains, when it resets). */
  decision: RateLimitDecision
  /** Whole seconds until a retry can succeed (the `Retry-After` value). */
  retryAfter: number
  /** The same wait in words: `30 seconds`, `2 minutes` (as @fastify/rate-limit's `after`). */
  after: string
}

/** The parts of a limit a route may set for itself under `config: { rateLimit: {...} }`. */
export interface RouteRateLimitOptions extends LimitRules {
  /** Routes with the same group share one counter per client. Default: the route's own (method and URL). */
  groupId?: string
  /** Default the plugin's. */
  keyGenerator?: (request: FastifyRequest) => string | Promise<string>
  /** Default the plugin's. */
  allowList?: string[] | ((request: FastifyRequest, key: string) => boolean | Promise<boolean>)
  /** Default the plugin's. */
  skip?: (request: FastifyRequest) => boolean | Promise<boolean>
}

export interface TollgateFastifyOptions extends LimitRules {
  /**
   * Where counters live (`createStore({ url: 'redis://…' })` to share limits between instances); not
   * closed by the plugin. Default a private memory store, closed on `onClose`.
   *
   * Without `limit` or `rules`: 1,000 requests a minute per client (@fastify/rate-limit's default);
   * `window` defaults to `'1m'`. tollgate's `limit`/`window` are @fastify/rate-limit's `max`/`timeWindow`.
   */
  store?: Store
  /** Keeps these counters apart from other limiters on the store (`rl:{namespace}:…`). Default `'http'`. */
  namespace?: string
  /** When the store fails: `'fallback'` (an in-memory limiter, default), `'allow'` or `'deny'`. */
  onStoreError?: 'fallback' | 'allow' | 'deny'
  /** Instances sharing the limit (the fallback allows `limit / instances` each). Default 1. */
  instances?: number
  /** Limits every route (true), or only routes with `config: { rateLimit: {...} }` (false). Default true. */
  global?: boolean
  /** The hook the limit runs in: `'preHandler'` to run after authentication hooks. Default `'onRequest'`. */
  hook?: 'onRequest' | 'preParsing' | 'preValidation' | 'preHandler'
  /**
   * Who a request counts as. Default: `request.user.id` when an authentication hook set it (`user:<id>`),
   * else `request.ip` with IPv6 addresses grouped by /64 (`ip:<address>`). Set Fastify's `trustProxy`
   * behind a proxy, or every client is the proxy. May be async.
   */
  keyGenerator?: (request: FastifyRequest) => string | Promise<string>
  /** Keys never limited: an array of keys (as `keyGenerator` returns them) or a function. Default none. */
  allowList?: string[] | ((request: FastifyRequest, key: string) => boolean | Promise<boolean>)
  /** Requests the limit ignores (not counted, no headers). Default none. */
  skip?: (request: FastifyRequest) => boolean | Promise<boolean>
  /** Called for each refused request, before the 429 is sent. Default none. */
  onExceeded?: (request: FastifyRequest, key: string, decision: RateLimitDecision) => void
  /**
   * The 429's body. A returned object with a numeric `statusCode` sets the status too. Default
   * Fastify's error shape: `{ statusCode: 429, error: 'Too Many Requests', message: 'Rate limit exceeded, retry in 30 seconds' }`.
   */
  errorResponseBuilder?: (request: FastifyRequest, context: RateLimitContext) => unknown
  /**
   * The IETF `RateLimit` fields sent on limited routes: `'draft-8'` (structured `RateLimit` and
   * `RateLimit-Policy`, one item per rule, as the gateway sends), `'draft-7'` (`RateLimit: limit=…,
   * remaining=…, reset=…`), `'draft-6'` (`RateLimit-Limit/-Remaining/-Reset`; @fastify/rate-limit's
   * `enableDraftSpec`), or false. A refusal always carries `Retry-After`. Default `'draft-8'`.
   */
  standardHeaders?: HeadersDraft | false
  /** Also send `x-ratelimit-limit`, `-remaining`, `-reset` (seconds from now, as @fastify/rate-limit). Default false. */
  legacyHeaders?: boolean
  /** Receives one line per store fallback switch; false for none. Default the Fastify logger. */
  logger?: RateLimiterLogger | false
  /**
   * Caches GET responses of routes with `config: { cache: true | { vary, ttl } }` (all GET routes with
   * `global: true`). Default off.
   */
  cache?: ResponseCacheOptions & { global?: boolean }
  /** Adds `request.session` (see {@link RequestSession}); true for the defaults. Default off. */
  sessions?: SessionOptions | true
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's own limit (its own counter), or false for none. */
    rateLimit?: RouteRateLimitOptions | false
    /** Cache this GET route's responses (with the plugin's `cache`), with its own `vary` or `ttl`, or not. */
    cache?: boolean | { vary?: string[]; ttl?: Duration }
  }
  interface FastifyRequest {
    /** The request's session (with the plugin's `sessions` option). */
    session: RequestSession
  }
}

type Options = TollgateFastifyOptions
const hooksShape = {
  keyGenerator: fn<NonNullable<Options['keyGenerator']>>('a function (request) => key').optional(),
  allowList: allowListShape<Extract<Options['allowList'], (...args: never[]) => unknown>>().optional(),
  skip: fn<NonNullable<Options['skip']>>('a function (request) => boolean').optional(),
  max: renamed('limit'),
  timeWindow: renamed('window'),
}

export const pluginSchema = z
  .object({
    ...sharedShape,
    ...ruleShape,
    ...hooksShape,
    global: z.boolean().default(true),
    hook: z.enum(['onRequest', 'preParsing', 'preValidation', 'preHandler'], { message: "'onRequest', 'preParsing', 'preValidation' or 'preHandler'" }).default('onRequest'),
    onExceeded: fn<NonNullable<Options['onExceeded']>>('a function (request, key, decision)').optional(),
    errorResponseBuilder: fn<NonNullable<Options['errorResponseBuilder']>>('a function (request, context) => body').optional(),
    cache: z.object({ ...responseCacheShape, global: z.boolean().default(false) }).strict().optional(),
    sessions: z.preprocess((v) => (v === true ? {} : v), sessionSchema).optional(),
  })
  .strict()

export const routeLimitSchema = z
  .object({
    ...ruleShape,
    ...hooksShape,
    groupId: z.string().min(1).max(256).optional(),
  })
  .strict()

export const routeCacheConfigSchema = z.union([z.boolean(), routeCacheSchema])
