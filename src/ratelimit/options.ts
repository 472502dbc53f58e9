import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import { DEFAULTS } from '../core/defaults.js'
import type { Duration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'
import { byteSize, parseOptions, positiveDurationMs } from '../core/options.js'
import type { Store } from '../stores/types.js'
import type { AlgorithmCode } from './algorithms.js'

export type Algorithm = 'fixed-window' | 'sliding-window' | 'token-bucket'

export interface RuleOptions {
  /** Names the rule in decisions and keys; letters, digits, `_ . -`. Default derived from the rule. */
  name?: string
  /** Default `'sliding-window'`. */
  algorithm?: Algorithm
  /** Requests (or cost units, e.g. tokens) allowed per window; for the token bucket, the rate. */
  limit: number
  /** `'1m'`, `'500ms'`, or milliseconds; whole milliseconds only. */
  window: Duration
  /** Token bucket: how many can be spent at once. Default `limit`. */
  burst?: number
  /** Sliding window: buckets per window (precision). Default 10. */
  buckets?: number
  /**
   * Counts this rule separately per value of a scope given at each call (`consume(key, { scopes:
   * { user: 'alice' } })`), e.g. per end user or per model inside one key. Default none.
   */
  scope?: string
}

/** Minimal logger (pino and console both fit); receives one line per fallback switch. */
export interface RateLimiterLogger {
  warn(message: string): void
  info(message: string): void
}

export interface RateLimiterOptions extends Partial<RuleOptions> {
  /** Where limits live. Default: a private memory store, closed with the limiter. */
  store?: Store
  /** Several rules decided together, all or nothing. Use either these or the top-level rule options. */
  rules?: RuleOptions[]
  /** Keeps limiters on one store apart: keys are `rl:{namespace}:{id}:{rule}`. Default none. */
  namespace?: string
  /** When the store fails: `'fallback'` (in-memory limiter, default), `'allow'` or `'deny'`. */
  onStoreError?: 'fallback' | 'allow' | 'deny'
  /** Instances sharing the limit; the fallback allows `limit / instances` each. Default 1. */
  instances?: number
  /** Local cache of blocked keys (no store round trip until their retry time), or false. Default 10,000 keys. */
  blockCache?: { maxKeys?: number } | false
  /** When to stop calling a failing store and how often to probe it. Default 3 failures, every 1 s. */
  circuitBreaker?: { failureThreshold?: number; probeInterval?: Duration }
  /** Memory budget of the fallback limiter. Default 16 MiB. */
  fallbackMaxBytes?: number
  /**
   * Calls made in the same tick go to a remote store (Redis) together, in one script call decided in
   * order as if one by one. This bounds one call: the most rule states it decides, a decision
   * counting one per rule (a sliding window one per 12 buckets), so a call's server time stays
   * short whatever the rules. A decision heavier than it goes alone; 1 sends each alone. Default 128.
   */
  batchSize?: number
  /** Clock for the memory store, the fallback and the block cache. Default the system clock. */
  clock?: Clock
  /** Receives one line per fallback switch; false for none. Default `console`. */
  logger?: RateLimiterLogger | false
}

export interface NormalizedRule {
  name: string
  /** The rule's part of its store key; carries the algorithm, whose state types differ. */
  keyPart: string
  algorithm: Algorithm
  code: AlgorithmCode
  limit: number
  windowMs: number
  /** Buckets (sliding window), burst (token bucket) or 0. */
  param: number
  scope?: string
}

const CODES: Record<Algorithm, AlgorithmCode> = { 'fixed-window': 'f', 'sliding-window': 's', 'token-bucket': 't' }
const count = (max: number) =>
  z.number().int({ message: 'a whole number' }).min(1, { message: 'a whole number >= 1' }).max(max, { message: `a whole number <= ${max}` })

const ruleShape = {
  name: z.string().regex(/^[\w.-]{1,64}$/, { message: 'letters, digits, _ . - (at most 64)' }).optional(),
  algorithm: z.enum(['fixed-window', 'sliding-window', 'token-bucket'], { message: "'fixed-window', 'sliding-window' or 'token-bucket'" }).optional(),
  limit: count(1e12),
  window: positiveDurationMs.refine((ms) => Number.isInteger(ms), { message: 'a whole number of milliseconds' }),
  burst: count(1e12).optional(),
  buckets: count(1000).optional(),
  scope: z.string().regex(/^[\w.-]{1,32}$/, { message: 'letters, digits, _ . - (at most 32)' }).optional(),
}
const ruleSchema = z.object(ruleShape).strict()

const schema = z
  .object({
    ...ruleSchema.partial().shape,
    store: z.custom<Store>((v) => typeof (v as Store)?.runScript === 'function', { message: 'a Store from createStore()' }).optional(),
    rules: z.array(ruleSchema).min(1, { message: 'at least one rule' }).max(16, { message: 'at most 16 rules' }).optional(),
    namespace: z.string().regex(/^[\w.-]{1,64}$/, { message: 'letters, digits, _ . - (at most 64)' }).optional(),
    onStoreError: z.enum(['fallback', 'allow', 'deny'], { message: "'fallback', 'allow' or 'deny'" }).default('fallback'),
    instances: count(10_000).default(DEFAULTS.rateLimit.instances),
    blockCache: z
      .union([z.literal(false), z.object({ maxKeys: count(10_000_000).default(DEFAULTS.rateLimit.blockCacheMaxKeys) }).strict()])
      .default({ maxKeys: DEFAULTS.rateLimit.blockCacheMaxKeys }),
    circuitBreaker: z
      .object({
        failureThreshold: count(1_000).default(DEFAULTS.rateLimit.failureThreshold),
        probeInterval: positiveDurationMs.default(DEFAULTS.rateLimit.probeIntervalMs),
      })
      .strict()
      .default({ failureThreshold: DEFAULTS.rateLimit.failureThreshold, probeInterval: DEFAULTS.rateLimit.probeIntervalMs }),
    fallbackMaxBytes: byteSize(1024).default(DEFAULTS.rateLimit.fallbackMaxBytes),
    batchSize: count(10_000).default(DEFAULTS.rateLimit.batchSize),
    clock: z.custom<Clock>((v) => typeof (v as Clock)?.now === 'function', { message: 'an object with now()' }).optional(),
    logger: z
      .union([z.literal(false), z.custom<RateLimiterLogger>((v) => typeof (v as RateLimiterLogger)?.warn === 'function')])
      .optional(),
  })
  .strict()

export type ParsedOptions = Omit<z.output<typeof schema>, 'rules'> & { rules: NormalizedRule[] }

export function parseRateLimiterOptions(options: RateLimiterOptions): ParsedOptions {
  const parsed = parseOptions(schema, options)
  const single = parsed.limit !== undefined || parsed.window !== undefined || parsed.algorithm !== undefined
  if (parsed.rules && single) {
    throw new InvalidOptionError('rules', options.rules, 'either rules: [...] or a single rule (limit, window), not both')
  }
  const raw = parsed.rules ?? [parseOptions(ruleSchema, pickRule(options))]
  const rules = raw.map((rule, i) => normalizeRule(rule, parsed.rules ? `rules.${i}` : ''))
  const names = new Set(rules.map((r) => r.name))
  if (names.size !== rules.length) throw new InvalidOptionError('rules', options.rules, 'rules with distinct names')
  return { ...parsed, rules }
}

function pickRule(options: RateLimiterOptions): Record<string, unknown> {
  const { name, algorithm, limit, window, burst, buckets, scope } = options
  return Object.fromEntries(Object.entries({ name, algorithm, limit, window, burst, buckets, scope }).filter(([, v]) => v !== undefined))
}

function normalizeRule(rule: z.output<typeof ruleSchema>, path: string): NormalizedRule {
  const algorithm = rule.algorithm ?? DEFAULTS.rateLimit.algorithm
  const at = (option: string) => (path ? `${path}.${option}` : option)
  if (rule.burst !== undefined && algorithm !== 'token-bucket') throw new InvalidOptionError(at('burst'), rule.burst, 'burst only with the token-bucket algorithm')
  if (rule.buckets !== undefined && algorithm !== 'sliding-window') {
    throw new InvalidOptionError(at('buckets'), rule.buckets, 'buckets only with the sliding-window algorithm')
  }
  const param = algorithm === 'token-bucket' ? (rule.burst ?? rule.limit) : algorithm === 'sliding-window' ? (rule.buckets ?? DEFAULTS.rateLimit.buckets) : 0
  const code = CODES[algorithm]
  const name = rule.name ?? `${code}${rule.limit}/${rule.window}${param ? `:${param}` : ''}`
  const keyPart = rule.name === undefined ? name : `${name}:${code}`
  return { name, keyPart, algorithm, code, limit: rule.limit, windowMs: rule.window, param, ...(rule.scope ? { scope: rule.scope } : {}) }
}
