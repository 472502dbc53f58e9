import { z } from 'zod'
import { DEFAULTS } from '../../core/defaults.js'
import type { Duration } from '../../core/duration.js'
import { InvalidOptionError } from '../../core/errors.js'
import { parseRateLimiterOptions, type Algorithm, type RateLimiterLogger, type RuleOptions } from '../../ratelimit/options.js'
import { createRateLimiter, type RateLimiter } from '../../ratelimit/rate-limiter.js'
import type { RateLimitDecision } from '../../ratelimit/types.js'
import { createStore } from '../../stores/create-store.js'
import type { Store } from '../../stores/types.js'
import { type HeaderList, type HeaderOptions, type Policy, rateLimitHeaders, retryAfterSeconds } from './rate-limit-headers.js'

/** The rule (or rules) of a limit, as `createRateLimiter` takes them. */
export interface LimitRules {
  /** Names the rule in the `RateLimit` headers and in keys. Default `'requests'`. */
  name?: string
  /** Requests allowed per `window` (the token bucket's rate). */
  limit?: number
  /** `'1m'`, `'500ms'`, or milliseconds. */
  window?: Duration
  /** Default `'sliding-window'` (no boundary bursts). */
  algorithm?: Algorithm
  /** Token bucket: how many at once. Default `limit`. */
  burst?: number
  /** Sliding window: buckets per window. Default 10. */
  buckets?: number
  /** Several rules decided together, all or nothing (e.g. 10 per second and 1,000 per hour). Instead of `limit`/`window`. */
  rules?: RuleOptions[]
}

/** Where the limiters of one plugin or middleware keep their counters. */
export interface LimiterPoolOptions {
  store?: Store | undefined
  namespace: string
  onStoreError: 'fallback' | 'allow' | 'deny'
  instances: number
  logger?: RateLimiterLogger | false | undefined
}

/** Zod shapes every integration shares, so that a bad value fails the same way in each. */
export const fn = <F extends (...args: never[]) => unknown>(what: string) => z.custom<F>((v) => typeof v === 'function', { message: what })
/** An allow list: keys, or a function of the request. */
export const allowListShape = <F extends (...args: never[]) => unknown>() => z.union([z.array(z.string()).max(100_000), fn<F>('an array of keys or a function (request, key) => boolean')])
export const sharedShape = {
  store: z.custom<Store>((v) => typeof (v as Store)?.runScript === 'function', { message: 'a Store from createStore()' }).optional(),
  namespace: z.string().regex(/^[\w.-]{1,64}$/, { message: 'letters, digits, _ . - (at most 64)' }).default(DEFAULTS.http.namespace),
  onStoreError: z.enum(['fallback', 'allow', 'deny'], { message: "'fallback', 'allow' or 'deny'" }).default('fallback'),
  instances: z.number().int().min(1).max(10_000).default(1),
  standardHeaders: z.union([z.enum(['draft-6', 'draft-7', 'draft-8']), z.literal(false)], { message: "'draft-6', 'draft-7', 'draft-8' or false" }).default(DEFAULTS.http.standardHeaders),
  legacyHeaders: z.boolean().default(false),
  logger: z.union([z.literal(false), z.custom<RateLimiterLogger>((v) => typeof (v as RateLimiterLogger)?.warn === 'function', { message: 'false or an object with warn() and info()' })]).optional(),
}
/** An option of the library this integration follows that tollgate names otherwise: refused, with its name. */
export const renamed = (to: string) => z.undefined({ message: `not an option here: tollgate calls it ${to}` }).optional()
const ruleKeys = ['name', 'limit', 'window', 'algorithm', 'burst', 'buckets', 'rules'] as const
/** Rule options pass through; the limiter checks them when it is made (still at setup). */
export const ruleShape = Object.fromEntries(ruleKeys.map((key) => [key, z.unknown().optional()])) as Record<(typeof ruleKeys)[number], z.ZodOptional<z.ZodUnknown>>

/** The rule options found among other options (unknown values are left to the limiter's own checks). */
export function pickRules(options: object): LimitRules {
  const picked: Record<string, unknown> = {}
  for (const key of ruleKeys) {
    const value = (options as Record<string, unknown>)[key]
    if (value !== undefined) picked[key] = value
  }
  return picked as LimitRules
}

/**
 * The rate limiters of one plugin or middleware: one per distinct rule set, made at setup and shared
 * by every route with those rules (routes stay apart by their key). The store is the caller's, or a
 * private memory store that `close` closes.
 */
export class LimiterPool {
  readonly #options: LimiterPoolOptions
  readonly #store: Store
  readonly #ownsStore: boolean
  readonly #limiters = new Map<string, RateLimiter>()

  constructor(options: LimiterPoolOptions) {
    this.#options = options
    this.#ownsStore = options.store === undefined
    this.#store = options.store ?? createStore({ url: 'memory://' })
  }

  /** The limiter for these rules; throws `E_INVALID_OPTION` naming `prefix` when they are bad. */
  limiterFor(rules: LimitRules, prefix: string): RateLimiter {
    const named = rules.rules || rules.name !== undefined ? rules : { ...rules, name: DEFAULTS.http.ruleName }
    const options = { ...named, store: this.#store, namespace: this.#options.namespace, onStoreError: this.#options.onStoreError, instances: this.#options.instances, ...(this.#options.logger === undefined ? {} : { logger: this.#options.logger }) }
    let normalized
    try {
      normalized = parseRateLimiterOptions(options).rules
    } catch (err) {
      if (err instanceof InvalidOptionError && prefix) throw new InvalidOptionError(`${prefix}.${err.option}`, err.value, err.expected, { cause: err })
      throw err
    }
    const id = JSON.stringify(normalized)
    let limiter = this.#limiters.get(id)
    if (!limiter) {
      limiter = createRateLimiter(options)
      this.#limiters.set(id, limiter)
    }
    return limiter
  }

  async close(): Promise<void> {
    await Promise.all([...this.#limiters.values()].map((limiter) => limiter.close()))
    this.#limiters.clear()
    if (this.#ownsStore) await this.#store.close()
  }
}

/** What decides, for one limit, whether a request counts and under which key. */
export interface LimitHooks<Ctx> {
  keyGenerator: (ctx: Ctx) => string | Promise<string>
  allowList?: readonly string[] | ((ctx: Ctx, key: string) => boolean | Promise<boolean>) | undefined
  skip?: ((ctx: Ctx) => boolean | Promise<boolean>) | undefined
}

/** A request the limit does not apply to (skipped, or on the allow list). */
export interface NotCounted {
  counted: false
}

/** A request the limiter decided: its key, the decision and the headers that say so. */
export interface Counted {
  counted: true
  key: string
  decision: RateLimitDecision
  /** The limit headers, plus `Retry-After` when refused. */
  headers: HeaderList
  /** Whole seconds to wait, when refused. */
  retryAfter: number
}

export type Verdict = NotCounted | Counted

/**
 * One limit of an HTTP integration, free of any framework: which key a request counts under, whether
 * it counts at all, the decision and its headers. A framework's adapter only translates.
 */
export class HttpLimit<Ctx> {
  readonly #limiter: RateLimiter
  readonly #hooks: LimitHooks<Ctx>
  readonly #headers: HeaderOptions
  readonly #scope: string
  readonly #allowSet: Set<string> | undefined
  readonly #policies: Policy[]

  /** `scope` keeps the counters of a route (or group) apart from every other limit's. */
  constructor(limiter: RateLimiter, hooks: LimitHooks<Ctx>, headers: HeaderOptions, scope = '') {
    this.#limiter = limiter
    this.#hooks = hooks
    this.#headers = headers
    this.#scope = scope
    this.#allowSet = Array.isArray(hooks.allowList) ? new Set(hooks.allowList) : undefined
    this.#policies = limiter.rules.map((rule) => ({ name: rule.name, windowMs: rule.windowMs }))
  }

  async check(ctx: Ctx): Promise<Verdict> {
    if (this.#hooks.skip && (await this.#hooks.skip(ctx))) return { counted: false }
    const key = await this.#hooks.keyGenerator(ctx)
    if (typeof key !== 'string' || key === '') throw new InvalidOptionError('keyGenerator', key, 'a key generator returning a non-empty string')
    if (this.#allowSet ? this.#allowSet.has(key) : typeof this.#hooks.allowList === 'function' && (await this.#hooks.allowList(ctx, key))) return { counted: false }
    const decision = await this.#limiter.consume(this.#scope ? `${this.#scope}|${key}` : key)
    const headers = rateLimitHeaders(decision, this.#policies, this.#headers)
    const retryAfter = decision.allowed ? 0 : retryAfterSeconds(decision)
    if (!decision.allowed) headers.push(['Retry-After', String(retryAfter)])
    return { counted: true, key, decision, headers, retryAfter }
  }

  /** Forgets `key`'s counters in this limit. */
  reset(key: string): Promise<void> {
    return this.#limiter.reset(this.#scope ? `${this.#scope}|${key}` : key)
  }
}

/** `30 seconds`, `1 minute`, `2 hours`: how long to wait, in words. */
export function inWords(seconds: number): string {
  const [amount, unit] = seconds < 120 ? [seconds, 'second'] : seconds < 7_200 ? [Math.ceil(seconds / 60), 'minute'] : [Math.ceil(seconds / 3_600), 'hour']
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`
}

/** The 429 body both integrations send by default: Fastify's error shape, with the wait in words. */
export function tooManyRequestsBody(retryAfter: number): { statusCode: 429; error: 'Too Many Requests'; message: string } {
  return { statusCode: 429, error: 'Too Many Requests', message: `Rate limit exceeded, retry in ${inWords(retryAfter)}` }
}

