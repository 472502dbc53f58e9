import { z } from 'zod'
import type { Cache } from '../../cache/cache.js'
import type { CostLedger } from '../../calls/cost-ledger.js'
import type { CacheStatus, CallKind } from '../../calls/types.js'
import { DEFAULTS } from '../../core/defaults.js'
import { InvalidOptionError } from '../../core/errors.js'
import type { Duration } from '../../core/duration.js'
import { byteSize, parseOptions, positiveDurationMs, positiveTimerMs } from '../../core/options.js'
import type { ModelPrice, UnpricedModel } from '../../llm/pricing.js'
import type { Store } from '../../stores/types.js'

/** A rule of {@link TollgateOpenAIOptions.limits}: at most `limit` in any `window`. */
export interface LimitWindow {
  limit: number
  window: Duration
}

/** What one call through the wrapped client was, once its answer is whole (for a stream: at its end). */
export interface CallReport {
  kind: CallKind
  model: string
  cache: CacheStatus
  /** Whether it was answered without an upstream call of its own (a hit, stale, or a joined identical call). */
  cached: boolean
  cacheKey: string
  /** USD the upstream call cost (MISS, BYPASS). */
  costUsd: number | undefined
  /** USD the answer saved (HIT, STALE). */
  savedUsd: number | undefined
}

export interface TollgateOpenAIOptions {
  /** Where answers are cached (`createCache`); L2 on Redis shares them, and their single-flight, between processes. Required. */
  cache: Cache
  /**
   * Who the calls belong to: entries live in the cache namespace `t/{tenant}` and the limits count
   * per tenant. Entries are also keyed by the provider's base URL, and, while no tenant is given, by
   * the API key the call carries: clients with different keys share answers only when given the same
   * tenant. Default `default`.
   */
  tenant?: string
  /** A namespace under the tenant's (`t/{tenant}/{namespace}`), e.g. per prompt version, cleared as one. Default none. */
  namespace?: string
  /** How long an answer is served from the cache. Default 1 hour (the gateway's `cache.ttl`). */
  ttl?: Duration
  /** Tags of every entry written, for `cache.invalidateTags`. Default none. */
  tags?: string[]
  /**
   * Request, token and budget limits of the tenant, charged before each call (its prompt estimated
   * and `max_tokens`) and settled with the real usage; per end user (`user` in the body) under
   * `user`. A refused call answers 429 (`RateLimitError` in the SDK) without retries. Default none.
   */
  limits?: {
    /** Where the counters live; Redis makes them exact across processes. */
    store: Store
    requests?: LimitWindow
    tokens?: LimitWindow
    user?: { requests?: LimitWindow; tokens?: LimitWindow }
    /** USD per UTC day. */
    dailyBudgetUsd?: number
  }
  /** Prices per model (USD per million tokens), over the built-in table. */
  prices?: Record<string, ModelPrice>
  /** What a model without a price costs: `estimate` (a flagship model's price, the default), `allow` (free), or `deny` (the call is refused). */
  unpricedModel?: UnpricedModel
  /** Spend and savings per tenant and model. Default a new ledger, kept for the wrapper's life. */
  ledger?: CostLedger
  /** Told about every call once its answer is whole; an exception it throws is ignored. */
  onCall?: (report: CallReport) => void
  /**
   * Longest wait for the provider's headers, and between two pieces of its reply. The SDK's own
   * timeout ends its caller's wait; this one ends an upstream call the cache still wants, which
   * other callers may have joined. Default: the client's `timeout` under `withTollgate`, else 2 minutes.
   */
  timeout?: Duration
  /** Longest a whole upstream call may take, to the last byte of the reply. Default 10 minutes. */
  deadline?: Duration
  /** Largest reply read or relayed (bytes). Default 32 MiB. */
  maxReplyBytes?: number
  /** Most JSON values parsed from one reply or stream event. Default 2,000,000. */
  maxReplyValues?: number
  /** Largest error body passed on to the SDK (bytes). Default 64 KiB. */
  maxErrorBytes?: number
  /** Deepest request body cached: a deeper one is refused with a 400 before it is hashed. Default 64. */
  maxJsonDepth?: number
}

const isObject = (message: string, test: (v: Record<string, unknown>) => boolean) => z.custom((v) => v !== null && typeof v === 'object' && test(v as Record<string, unknown>), { message })
const window = z.object({ limit: z.number().int().positive(), window: positiveDurationMs }).strict()
const name = z.string().regex(/^[\w.:-]{1,64}$/, 'letters, digits, _ . : - (1 to 64)')

const schema = z
  .object({
    cache: isObject('a Cache from createCache()', (v) => typeof v.getOrSetEntry === 'function' && typeof v.namespaced === 'function'),
    tenant: name.default('default'),
    namespace: name.optional(),
    ttl: positiveDurationMs.default(DEFAULTS.openai.ttlMs),
    tags: z.array(z.string().min(1).max(200)).max(32).default([]),
    limits: z
      .object({
        store: isObject('a Store from createStore()', (v) => typeof v.get === 'function' && typeof v.set === 'function'),
        requests: window.optional(),
        tokens: window.optional(),
        user: z.object({ requests: window.optional(), tokens: window.optional() }).strict().optional(),
        dailyBudgetUsd: z.number().min(0.000001).optional(),
      })
      .strict()
      .optional(),
    prices: z.record(z.string(), z.object({ input: z.number().min(0), output: z.number().min(0) }).strict()).optional(),
    unpricedModel: z.enum(['estimate', 'allow', 'deny']).default('estimate'),
    ledger: isObject('a CostLedger', (v) => typeof v.record === 'function').optional(),
    onCall: z.custom<(report: CallReport) => void>((v) => typeof v === 'function', { message: 'a function' }).optional(),
    timeout: positiveTimerMs.default(DEFAULTS.openai.timeoutMs),
    deadline: positiveTimerMs.default(DEFAULTS.upstream.deadlineMs),
    maxReplyBytes: byteSize().default(DEFAULTS.upstream.maxReplyBytes),
    maxReplyValues: z.number().int().positive().default(DEFAULTS.upstream.maxReplyValues),
    maxErrorBytes: byteSize().default(DEFAULTS.upstream.maxErrorBytes),
    maxJsonDepth: z.number().int().min(8).max(1_000).default(DEFAULTS.openai.maxJsonDepth),
  })
  .strict()

/** The options with every default filled in. */
export type ParsedOptions = Omit<z.output<typeof schema>, 'cache' | 'limits' | 'ledger'> & {
  cache: Cache
  limits: (Omit<NonNullable<z.output<typeof schema>['limits']>, 'store'> & { store: Store }) | undefined
  ledger: CostLedger | undefined
}

/** Validates the options once, at setup: a mistake throws `E_INVALID_OPTION` naming the option. */
export function parseOpenAIOptions(options: TollgateOpenAIOptions): ParsedOptions {
  const parsed = parseOptions(schema, options) as ParsedOptions
  if (parsed.ttl > parsed.cache.maxTtlMs) throw new InvalidOptionError('ttl', options.ttl, `at most ${parsed.cache.maxTtlMs} ms (30 days less the cache's grace)`)
  return parsed
}
