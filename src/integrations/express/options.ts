import type { NextFunction, Request, Response } from 'express'
import { z } from 'zod'
import { DEFAULTS } from '../../core/defaults.js'
import type { Duration } from '../../core/duration.js'
import { positiveDurationMs } from '../../core/options.js'
import type { RateLimiterLogger } from '../../ratelimit/options.js'
import type { RateLimitDecision } from '../../ratelimit/types.js'
import type { Store } from '../../stores/types.js'
import { allowListShape, fn, type LimitRules, renamed, ruleShape, sharedShape } from '../http/http-limiter.js'
import type { RequestSession } from '../http/http-session.js'
import type { HeadersDraft } from '../http/rate-limit-headers.js'

/** What the middleware puts on `req[requestPropertyName]` (express-rate-limit's fields, plus the decision). */
export interface RateLimitInfo {
  limit: number
  /** Requests counted in the current window (of the tightest rule). */
  used: number
  remaining: number
  /** When the tightest rule's quota is whole again. */
  resetTime: Date
  key: string
  /** The limiter's decision: every rule, its source (store or fallback). */
  decision: RateLimitDecision
}

export interface ExpressRateLimitOptions extends Omit<LimitRules, 'window'> {
  /**
   * Requests allowed per window and client. Default 5 (express-rate-limit's default); `max` is not
   * accepted (its old name). Or `rules` for several rules decided together.
   */
  limit?: number
  /** The window: milliseconds, or `'1m'`. Default 60,000 (1 minute). */
  windowMs?: Duration
  /** Where counters live (`createStore({ url: 'redis://…' })` to share limits between instances); not closed by `close()`. Default a private memory store. */
  store?: Store
  /** Keeps these counters apart from other limiters on the store (`rl:{namespace}:…`). Default `'http'`. */
  namespace?: string
  /** When the store fails: `'fallback'` (an in-memory limiter, default), `'allow'` (express-rate-limit's `passOnStoreError`) or `'deny'`. */
  onStoreError?: 'fallback' | 'allow' | 'deny'
  /** Instances sharing the limit (the fallback allows `limit / instances` each). Default 1. */
  instances?: number
  /**
   * Who a request counts as. Default: `req.user.id` when authentication ran first (`user:<id>`), else
   * `req.ip` with IPv6 addresses grouped by /64 (`ip:<address>`; express-rate-limit groups by /56).
   * Set Express's `trust proxy` behind a proxy. May be async.
   */
  keyGenerator?: (req: Request, res: Response) => string | Promise<string>
  /** Keys never limited: an array of keys or a function. Default none. */
  allowList?: string[] | ((req: Request, key: string) => boolean | Promise<boolean>)
  /** Requests the limit ignores (not counted, no headers). Default none. */
  skip?: (req: Request, res: Response) => boolean | Promise<boolean>
  /**
   * Answers a refused request (after the headers are set). Default: `statusCode` with `message`.
   * `info` is what `req[requestPropertyName]` holds.
   */
  handler?: (req: Request, res: Response, next: NextFunction, info: RateLimitInfo) => unknown
  /**
   * The default handler's body: a string, an object (sent as JSON) or a function of (req, res).
   * Default `{ statusCode: 429, error: 'Too Many Requests', message: 'Rate limit exceeded, retry in 30 seconds' }`
   * (express-rate-limit sends a plain-text sentence).
   */
  message?: string | object | ((req: Request, res: Response) => unknown)
  /** The default handler's status. Default 429. */
  statusCode?: number
  /** Where the request's {@link RateLimitInfo} goes: `req[requestPropertyName]`. Default `'rateLimit'`. */
  requestPropertyName?: string
  /**
   * The IETF `RateLimit` fields: `'draft-8'` (structured, one item per rule, the gateway's form),
   * `'draft-7'`, `'draft-6'` (true means draft-6, as in express-rate-limit), or false. A refusal always
   * carries `Retry-After`. Default `'draft-8'` (express-rate-limit: `'draft-6'` when true).
   */
  standardHeaders?: HeadersDraft | boolean
  /** Also send `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix seconds, as express-rate-limit). Default false (express-rate-limit: true). */
  legacyHeaders?: boolean
  /** Receives one line per store fallback switch; false for none. Default `console`. */
  logger?: RateLimiterLogger | false
}

type O = ExpressRateLimitOptions
const { window: _window, ...rules } = ruleShape

export const rateLimitSchema = z
  .object({
    ...sharedShape,
    ...rules,
    windowMs: positiveDurationMs.optional(),
    standardHeaders: z
      .union([z.enum(['draft-6', 'draft-7', 'draft-8']), z.boolean()], { message: "'draft-6', 'draft-7', 'draft-8' or a boolean" })
      .default(DEFAULTS.http.standardHeaders)
      .transform((v) => (v === true ? ('draft-6' as const) : v)),
    keyGenerator: fn<NonNullable<O['keyGenerator']>>('a function (req, res) => key').optional(),
    allowList: allowListShape<Extract<O['allowList'], (...args: never[]) => unknown>>().optional(),
    skip: fn<NonNullable<O['skip']>>('a function (req, res) => boolean').optional(),
    handler: fn<NonNullable<O['handler']>>('a function (req, res, next, info)').optional(),
    message: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown()), fn<(req: Request, res: Response) => unknown>('a function')]).optional(),
    statusCode: z.number().int().min(400).max(599).default(429),
    requestPropertyName: z.string().regex(/^[A-Za-z_$][\w$]{0,63}$/, { message: 'a property name' }).default('rateLimit'),
    max: renamed('limit'),
    window: renamed('windowMs'),
  })
  .strict()

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request's session (with tollgate's `session()` middleware). */
      session: RequestSession
      /** The request's limit state (with tollgate's `rateLimit()` and the default `requestPropertyName`). */
      rateLimit?: RateLimitInfo
    }
  }
}
