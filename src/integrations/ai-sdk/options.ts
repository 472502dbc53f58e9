import { z } from 'zod'
import type { Cache } from '../../cache/cache.js'
import { checkTags } from '../../cache/options.js'
import { DEFAULTS } from '../../core/defaults.js'
import type { Duration } from '../../core/duration.js'
import { InvalidOptionError } from '../../core/errors.js'
import { durationMs, parseOptions, positiveDurationMs } from '../../core/options.js'
import type { RateLimiter } from '../../ratelimit/rate-limiter.js'
import type { ModelCall } from './model-types.js'

/** Options of {@link tollgateMiddleware}. Everything but `cache` is optional. */
export interface TollgateMiddlewareOptions {
  /** Where answers are kept: a cache from `createCache()` (its store decides who shares them). Required. */
  cache: Cache
  /** How long an answer is served from the cache. Default the cache's `ttl` (5 min unless set there). */
  ttl?: Duration
  /**
   * How long past `ttl` an answer may still be served while one call refreshes it in the background
   * (stale-while-revalidate). Default the cache's `grace` (0: never stale).
   */
  grace?: Duration
  /**
   * Tags of the cached answers, for `cache.invalidateTags()`: a list, or a function of the call
   * (e.g. the prompt's version). At most 64, each 1 to 200 characters without newlines. Default none.
   */
  tags?: readonly string[] | ((call: ModelCall) => readonly string[] | undefined)
  /**
   * The cache namespace (tenant) of a call: an answer cached in one namespace is never served in
   * another, and `clearNamespace()` on `cache.namespaced(name)` drops one tenant's answers. A name, or a
   * function of the call (e.g. reading `call.params.providerOptions?.tollgate?.tenant`); a function
   * returning undefined means the cache's own namespace. Letters, digits, `_ . - /`, 1 to 128.
   * Default the cache's namespace.
   */
  namespace?: string | ((call: ModelCall) => string | undefined)
  /**
   * The cache key of a call; undefined: do not cache this call (it still counts against `limits`).
   * Default {@link callCacheKey}: SHA-256 over the model's provider, id and specification version,
   * whether it is a generate or a stream call, and every call option except `abortSignal`, `headers`
   * and `providerOptions.tollgate` (where an application may pass the tenant or user these options read).
   */
  key?: (call: ModelCall) => string | undefined
  /** Rate limits charged before each call, cache hits included. Default none. */
  limits?: MiddlewareLimits
}

/**
 * Rate limits of the model's calls. Every rule of `limiter` is charged before the call, all or
 * nothing: rules named in `tokenRules` are charged an estimate of the call's tokens, which is settled
 * against the usage the model reports (given back in full on a cache hit: a hit costs no tokens);
 * the others are charged 1 per call, hits included. A refused call throws `RateLimitedError`
 * (`E_RATE_LIMITED`) without reaching the cache or the model.
 */
export interface MiddlewareLimits {
  /** A limiter from `createRateLimiter({ rules: [...] })`; its store decides who shares the counts. Required. */
  limiter: RateLimiter
  /** Whose quota a call spends: a fixed name or a function of the call (an end user, a tenant). Default `'default'`: one quota for every call. */
  key?: string | ((call: ModelCall) => string)
  /** Names of `limiter`'s rules that count tokens. Default `['tokens']` if the limiter has a rule of that name, else none. */
  tokenRules?: readonly string[]
  /**
   * Tokens charged up front. Default: the prompt's and tools' text at about four characters a token,
   * a flat figure per attachment, plus `maxOutputTokens` (256 when the call sets none).
   */
  estimate?: (call: ModelCall) => number
}

const isFunction = (message: string) => z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', { message })

const schema = z
  .object({
    cache: z.custom<Cache>((v) => typeof (v as Cache)?.getOrSetEntry === 'function' && typeof (v as Cache)?.namespaced === 'function', { message: 'a Cache from createCache()' }),
    ttl: positiveDurationMs.optional(),
    grace: durationMs.optional(),
    tags: z.union([z.array(z.unknown()), isFunction('a function')], { message: 'an array of tags or a function of the call' }).optional(),
    namespace: z.union([z.string(), isFunction('a function')], { message: 'a namespace name or a function of the call' }).optional(),
    key: isFunction('a function of the call returning the cache key').optional(),
    limits: z
      .object({
        limiter: z.custom<RateLimiter>((v) => typeof (v as RateLimiter)?.consume === 'function' && Array.isArray((v as RateLimiter)?.rules), {
          message: 'a RateLimiter from createRateLimiter()',
        }),
        key: z.union([z.string().min(1), isFunction('a function')], { message: 'a non-empty string or a function of the call' }).optional(),
        tokenRules: z.array(z.string()).optional(),
        estimate: isFunction('a function of the call returning a number of tokens').optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

export interface ParsedLimits {
  limiter: RateLimiter
  key: string | ((call: ModelCall) => string)
  tokenRules: ReadonlySet<string>
  estimate: ((call: ModelCall) => number) | undefined
}

export interface ParsedMiddlewareOptions {
  cache: Cache
  ttl: number | undefined
  grace: number | undefined
  tags: readonly string[] | ((call: ModelCall) => readonly string[] | undefined) | undefined
  /** The cache itself, or its view under the static namespace. */
  namespaced: Cache
  namespace: ((call: ModelCall) => string | undefined) | undefined
  key: ((call: ModelCall) => string | undefined) | undefined
  limits: ParsedLimits | undefined
}

/** Checks every option now, so a typo fails when the model is wrapped, not on its first call. */
export function parseMiddlewareOptions(options: TollgateMiddlewareOptions): ParsedMiddlewareOptions {
  const parsed = parseOptions(schema, options)
  const maxTtl = DEFAULTS.cache.maxTtlMs
  if ((parsed.ttl ?? 0) + (parsed.grace ?? 0) > maxTtl) throw new InvalidOptionError(parsed.grace === undefined ? 'ttl' : 'grace', parsed.grace ?? options.ttl, 'ttl + grace of at most 30 days')
  const tags = Array.isArray(parsed.tags) ? checkTags(parsed.tags) : (parsed.tags as ParsedMiddlewareOptions['tags'])
  const namespace = typeof parsed.namespace === 'string' ? parsed.namespace : undefined
  return {
    cache: parsed.cache,
    ttl: parsed.ttl,
    grace: parsed.grace,
    tags,
    // `namespaced` throws E_INVALID_OPTION naming `namespace` for a bad name: checked here, once.
    namespaced: namespace === undefined ? parsed.cache : parsed.cache.namespaced(namespace),
    namespace: typeof parsed.namespace === 'function' ? (parsed.namespace as (call: ModelCall) => string | undefined) : undefined,
    key: parsed.key as ParsedMiddlewareOptions['key'],
    limits: parsed.limits && parseLimits(parsed.limits as MiddlewareLimits),
  }
}

function parseLimits(limits: MiddlewareLimits): ParsedLimits {
  const names = new Set(limits.limiter.rules.map((rule) => rule.name))
  const defaults = DEFAULTS.aiSdk.tokenRules.filter((name) => names.has(name))
  const tokenRules = limits.tokenRules ?? defaults
  for (const [i, name] of tokenRules.entries()) {
    if (!names.has(name)) throw new InvalidOptionError(`limits.tokenRules.${i}`, name, `the name of one of the limiter's rules: ${[...names].join(', ')}`)
  }
  return { limiter: limits.limiter, key: limits.key ?? DEFAULTS.aiSdk.limitKey, tokenRules: new Set(tokenRules), estimate: limits.estimate }
}
