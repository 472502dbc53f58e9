import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import { DEFAULTS } from '../core/defaults.js'
import type { Duration } from '../core/duration.js'
import { parseDuration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'
import { byteSize, durationMs, parseOptions, positiveDurationMs, positiveTimerMs, timerMs } from '../core/options.js'
import type { Serializer } from '../core/serializer.js'
import type { Store } from '../stores/types.js'
import type { CacheSetOptions, GetOrSetOptions } from './types.js'

export interface CacheOptions {
  /** L2: any store (Redis, Cluster, memcached, memory). Omitted: L1 only, nothing shared. */
  store?: Store
  /**
   * L1, in this process: an LRU bounded by bytes. `ttl` caps how long an entry stays in L1 (it never
   * outlives its L2 entry either), which bounds staleness when the invalidation bus is down.
   * false: no L1. Default `{ maxBytes: 32 MiB }`, no extra cap.
   */
  l1?: { maxBytes?: number; ttl?: Duration } | false
  /** How long entries are fresh. Default 5 min. */
  ttl?: Duration
  /** How long past `ttl` an entry may be served stale. Default 0. */
  grace?: Duration
  /** Soft timeout of `getOrSet` (see {@link GetOrSetOptions.timeout}). Default 0. */
  timeout?: Duration
  /** Hard timeout of `getOrSet` (see {@link GetOrSetOptions.hardTimeout}). Default none. */
  hardTimeout?: Duration
  /** Keys are `c:{namespace}:{generation}:{key}`; letters, digits, `_ . - /`. Default `'default'`. */
  namespace?: string
  /** Values to bytes and back. Default JSON. Never use one that can revive code. */
  serializer?: Serializer
  /** Deflate L2 payloads from `threshold` bytes (default 1 KiB) on; true for the default. Default false. */
  compression?: boolean | { threshold?: number }
  /** Largest serialized entry. Default 1 MiB. */
  maxEntryBytes?: number
  /**
   * Cross-instance single-flight: the first instance to miss takes a lease of `ttl` in L2 and renews
   * it while its loader runs; the others wait for its result (up to `wait`), and load themselves
   * as soon as the lease is gone without a value (the leader failed or died) or the leader says its
   * value will not be cached. false: per-process single-flight only. Default `{ ttl: '10s', wait: '1m' }`.
   */
  lease?: { ttl?: Duration; wait?: Duration } | false
  /** Staleness bound of namespace and tag invalidations without a bus. Default 1 s. */
  markerRefresh?: Duration
  /** When to stop calling a failing L2 and how often to probe it. Default 3 failures, every 1 s. */
  circuitBreaker?: { failureThreshold?: number; probeInterval?: Duration }
  /** Clock for freshness, grace and markers. Default the system clock. */
  clock?: Clock
}

const C = DEFAULTS.cache
export const NAMESPACE = /^[\w.\-/]{1,128}$/

const schema = z
  .object({
    store: z.custom<Store>((v) => typeof (v as Store)?.get === 'function' && typeof (v as Store)?.set === 'function', { message: 'a Store from createStore()' }).optional(),
    l1: z
      .union([z.literal(false), z.object({ maxBytes: byteSize(1024).default(C.l1MaxBytes), ttl: positiveDurationMs.optional() }).strict()])
      .default({ maxBytes: C.l1MaxBytes }),
    ttl: positiveDurationMs.default(C.ttlMs),
    grace: durationMs.default(C.graceMs),
    timeout: timerMs.default(0),
    hardTimeout: positiveTimerMs.optional(),
    namespace: z.string().regex(NAMESPACE, { message: 'letters, digits, _ . - / (1 to 128)' }).default(C.namespace),
    serializer: z
      .custom<Serializer>((v) => typeof (v as Serializer)?.serialize === 'function' && typeof (v as Serializer)?.deserialize === 'function', {
        message: 'an object with serialize() and deserialize()',
      })
      .optional(),
    compression: z
      .union([z.boolean(), z.object({ threshold: byteSize(1).default(C.compressionThresholdBytes) }).strict()])
      .default(false),
    maxEntryBytes: byteSize(64).default(C.maxEntryBytes),
    lease: z
      .union([z.literal(false), z.object({ ttl: positiveTimerMs.default(C.leaseTtlMs), wait: timerMs.default(C.leaseWaitMs) }).strict()])
      .default({ ttl: C.leaseTtlMs, wait: C.leaseWaitMs }),
    markerRefresh: positiveDurationMs.default(C.markerRefreshMs),
    circuitBreaker: z
      .object({
        failureThreshold: z.number().int().min(1).max(1000).default(C.failureThreshold),
        probeInterval: positiveDurationMs.default(C.probeIntervalMs),
      })
      .strict()
      .default({ failureThreshold: C.failureThreshold, probeInterval: C.probeIntervalMs }),
    clock: z.custom<Clock>((v) => typeof (v as Clock)?.now === 'function', { message: 'an object with now()' }).optional(),
  })
  .strict()

export type ParsedCacheOptions = z.output<typeof schema> & { compressFrom: number | false }

export function parseCacheOptions(options: CacheOptions): ParsedCacheOptions {
  const parsed = parseOptions(schema, options)
  if (parsed.ttl + parsed.grace > C.maxTtlMs) throw new InvalidOptionError('grace', options.grace, 'ttl + grace of at most 30 days')
  const compressFrom = parsed.compression === false ? false : parsed.compression === true ? C.compressionThresholdBytes : parsed.compression.threshold
  return { ...parsed, compressFrom }
}

/** A call's options resolved against the cache's defaults. */
export interface CallOptions {
  ttlMs: number
  graceMs: number
  tags: readonly string[]
  l1: boolean
  timeoutMs: number
  hardTimeoutMs: number | undefined
}

const NO_TAGS: readonly string[] = []
const CALL_KEYS = new Set(['ttl', 'grace', 'tags', 'l1', 'timeout', 'hardTimeout'])

/**
 * Per-call options, checked by hand: this runs on every `getOrSet`, where a schema parse would cost
 * more than an L1 hit. Errors name the option like the constructor's do.
 */
export function resolveCallOptions(defaults: ParsedCacheOptions, options: GetOrSetOptions | undefined): CallOptions {
  if (options === undefined) {
    return { ttlMs: defaults.ttl, graceMs: defaults.grace, tags: NO_TAGS, l1: true, timeoutMs: defaults.timeout, hardTimeoutMs: defaults.hardTimeout }
  }
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', options, 'an object')
  for (const key of Object.keys(options)) {
    if (!CALL_KEYS.has(key)) throw new InvalidOptionError(key, (options as Record<string, unknown>)[key], 'no such option (check the spelling)')
  }
  const ttlMs = options.ttl === undefined ? defaults.ttl : parseDuration(options.ttl, 'ttl')
  if (ttlMs <= 0) throw new InvalidOptionError('ttl', options.ttl, 'a duration greater than zero')
  const graceMs = options.grace === undefined ? defaults.grace : parseDuration(options.grace, 'grace')
  if (ttlMs + graceMs > C.maxTtlMs) throw new InvalidOptionError('grace', options.grace, 'ttl + grace of at most 30 days')
  if (options.l1 !== undefined && typeof options.l1 !== 'boolean') throw new InvalidOptionError('l1', options.l1, 'a boolean')
  return {
    ttlMs,
    graceMs,
    tags: options.tags === undefined ? NO_TAGS : checkTags(options.tags),
    l1: options.l1 !== false,
    timeoutMs: options.timeout === undefined ? defaults.timeout : parseDuration(options.timeout, 'timeout'),
    hardTimeoutMs: options.hardTimeout === undefined ? defaults.hardTimeout : parseDuration(options.hardTimeout, 'hardTimeout'),
  }
}

/** Tags: 1 to 64 strings of 1 to 200 characters without newlines (the L2 format separates them by one). */
export function checkTags(tags: unknown, option = 'tags'): readonly string[] {
  if (!Array.isArray(tags) || tags.length > 64) throw new InvalidOptionError(option, tags, 'an array of at most 64 tags')
  for (const [i, tag] of tags.entries()) {
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > 200 || tag.includes('\n')) {
      throw new InvalidOptionError(`${option}.${i}`, tag, 'a tag of 1 to 200 characters without newlines')
    }
  }
  return tags as readonly string[]
}

export type { CacheSetOptions }
