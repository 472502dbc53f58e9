import type { Context, MiddlewareFn } from 'grammy'
import { z } from 'zod'
import { type Clock, systemClock } from '../../core/clock.js'
import { DEFAULTS } from '../../core/defaults.js'
import { InvalidOptionError, type TollgateError } from '../../core/errors.js'
import { parseOptions } from '../../core/options.js'
import type { RateLimiterLogger, RuleOptions } from '../../ratelimit/options.js'
import { createRateLimiter, type RateLimiter } from '../../ratelimit/rate-limiter.js'
import type { RateLimitDecision } from '../../ratelimit/types.js'
import type { Store } from '../../stores/types.js'
import { RefusalReports } from './refusal-reports.js'

type MaybePromise<T> = T | Promise<T>

export interface LimitOptions<C extends Context = Context> {
  /**
   * Where the counters live. Give every bot process the same Redis store and the limit holds across
   * all of them, exactly (one atomic script per decision). Default: a private memory store (one
   * process only), closed by `close()`.
   */
  store?: Store
  /**
   * A limiter built with `createRateLimiter`, used as it is. Not with `store`, `rules`,
   * `onStoreError`, `instances` or `logger` (they configure the limiter this middleware would build).
   * Default: one built from those options. (`clock` then only measures refusal periods.)
   */
  limiter?: RateLimiter
  /**
   * Rules decided together, all or nothing: `[{ limit: 1, window: '1s' }, { limit: 20, window: '1m' }]`
   * admits an update only if both have room. Default: 1 update per second per key (what grammY's
   * ratelimiter plugin allows).
   */
  rules?: RuleOptions[]
  /**
   * Who is limited: the key of an update. Returning undefined lets the update through unlimited.
   * Default: the sender (`ctx.from.id`), else the chat (`ctx.chat.id`); per chat:
   * `(ctx) => ctx.chat?.id`; global: `() => 'all'`.
   */
  keyGenerator?: (ctx: C) => MaybePromise<string | number | undefined>
  /**
   * Prepended to every key (`booking_bot:client1` → `booking_bot:client1:42`), so bots or tenants
   * sharing one store keep their counters apart. Letters, digits and `_ . : @ -`. Default none.
   */
  keyPrefix?: string
  /**
   * Called for a refused update, once per key and refusal period (until the key may send again),
   * not once per message: a user flooding 50 messages gets one "slow down". With a `store`, once
   * across all processes sharing it; with `limiter`, once per process. Awaited, so its errors reach
   * `bot.catch`. Default: refused updates are dropped silently.
   */
  onLimitExceeded?: (ctx: C, decision: RateLimitDecision) => unknown
  /**
   * When the store fails: `'fallback'` (an in-memory limiter in each process, logged once per
   * switch), `'allow'` or `'deny'`. Default `'fallback'`.
   */
  onStoreError?: 'fallback' | 'allow' | 'deny'
  /** Bot processes sharing the limits; the memory fallback allows `limit / instances` in each. Default 1. */
  instances?: number
  /** Receives one line when the store fails and one when it answers again; false for none. Default `console`. */
  logger?: RateLimiterLogger | false
  /** Measures refusal periods (and the time of the limiter's memory store and fallback). Default the system clock. */
  clock?: Clock
}

/** The middleware, with the limiter it decides with and a `close()` for what it created. */
export type LimitMiddleware<C extends Context = Context> = MiddlewareFn<C> & {
  readonly limiter: RateLimiter
  /** Closes the limiter if this middleware built it (never the store you gave). */
  close(): Promise<void>
}

const LIMITER_OPTIONS = ['store', 'rules', 'onStoreError', 'instances', 'logger'] as const

const fn = (message: string) => z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', { message })

const schema = z
  .object({
    store: z.custom<Store>((v) => typeof (v as Store)?.set === 'function', { message: 'a Store from createStore()' }).optional(),
    limiter: z.custom<RateLimiter>((v) => typeof (v as RateLimiter)?.consume === 'function', { message: 'a RateLimiter from createRateLimiter()' }).optional(),
    rules: z.array(z.unknown()).optional(),
    keyGenerator: fn('a function of the context').optional(),
    keyPrefix: z.string().regex(/^[\w.:@-]{1,128}$/, { message: 'letters, digits, _ . : @ - (1 to 128)' }).optional(),
    onLimitExceeded: fn('a function (ctx, decision)').optional(),
    onStoreError: z.unknown().optional(),
    instances: z.unknown().optional(),
    logger: z.unknown().optional(),
    clock: z.custom<Clock>((v) => typeof (v as Clock)?.now === 'function', { message: 'an object with now()' }).optional(),
  })
  .strict()

/** The sender, else the chat: what grammY's ratelimiter plugin keys on by default. */
function defaultKey(ctx: Context): number | undefined {
  return ctx.from?.id ?? ctx.chat?.id
}

/**
 * Middleware that limits incoming updates per key (user, chat, or anything `keyGenerator` says) with
 * tollgate's limiter: one atomic decision per update, exact across every process sharing the store,
 * where grammY's ratelimiter plugin reads, computes and writes back in three steps and lets several
 * processes each admit the same last slot.
 */
export function limit<C extends Context = Context>(options: LimitOptions<C> = {}): LimitMiddleware<C> {
  const parsed = parseOptions(schema, options)
  if (parsed.limiter) {
    const clash = LIMITER_OPTIONS.find((name) => options[name] !== undefined)
    if (clash) throw new InvalidOptionError(clash, options[clash], 'no such option next to limiter (configure the limiter itself)')
  }
  const limiter =
    parsed.limiter ??
    createRateLimiter({
      ...(options.store ? { store: options.store } : {}),
      rules: options.rules ?? [{ limit: DEFAULTS.grammy.updatesLimit, window: DEFAULTS.grammy.updatesWindowMs }],
      namespace: 'grammy',
      ...(options.onStoreError !== undefined ? { onStoreError: options.onStoreError } : {}),
      ...(options.instances !== undefined ? { instances: options.instances } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(parsed.clock ? { clock: parsed.clock } : {}),
    })
  const ownsLimiter = parsed.limiter === undefined
  const keyOf = options.keyGenerator ?? (defaultKey as (ctx: C) => number | undefined)
  const prefix = options.keyPrefix === undefined ? '' : `${options.keyPrefix}:`
  const onLimitExceeded = options.onLimitExceeded
  const clock = parsed.clock ?? systemClock
  const reports = new RefusalReports(DEFAULTS.grammy.reportedKeys, () => clock.now())
  const noticeStore = ownsLimiter ? options.store : undefined
  // A refusal of a one-unit update ends within the longest window; the cap keeps the TTL finite whatever the limiter answers.
  const longestWindowMs = Math.max(...limiter.rules.map((rule) => rule.windowMs))

  /** Whether this refusal is the first of its period, here and (through the store) in every other process. */
  async function firstReport(id: string, decision: RateLimitDecision): Promise<boolean> {
    const ttlMs = Math.max(1, Math.ceil(Math.min(decision.retryAfterMs, longestWindowMs)))
    if (!reports.claim(id, ttlMs)) return false
    if (!noticeStore || decision.source !== 'store') return true
    try {
      return await noticeStore.set(`grammy-notice:${id}`, '1', { ttlMs, ifNotExists: true })
    } catch (err) {
      // Better a second notice than none: the store is failing, the limiter's fallback decides.
      if ((err as TollgateError).code?.startsWith('E_STORE')) return true
      throw err
    }
  }

  const middleware: MiddlewareFn<C> = async (ctx, next) => {
    const key = await keyOf(ctx)
    if (key === undefined || key === null || key === '') return next()
    if (typeof key !== 'string' && typeof key !== 'number') throw new InvalidOptionError('keyGenerator', key, 'a function returning a string, a number or undefined')
    const id = `${prefix}${key}`
    const decision = await limiter.consume(id)
    if (decision.allowed) return next()
    if (onLimitExceeded && (await firstReport(id, decision))) await onLimitExceeded(ctx, decision)
  }
  return Object.assign(middleware, {
    limiter,
    close: async () => {
      if (ownsLimiter) await limiter.close()
    },
  })
}
