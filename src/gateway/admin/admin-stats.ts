import type { Cache } from '../../cache/cache.js'
import type { CostLedger, CostLine } from '../../calls/cost-ledger.js'
import type { CallLimits } from '../../calls/limits.js'
import { DEFAULTS } from '../../core/defaults.js'
import type { Store } from '../../stores/types.js'
import type { GatewayMetrics } from '../metrics/gateway-metrics.js'
import type { WindowedQuantiles } from '../metrics/windowed-quantiles.js'

/** Seconds over the last minute; null: nothing observed in it. */
export interface Quantiles {
  p50: number | null
  p95: number | null
  p99: number | null
}

export interface MoneyLine {
  name: string
  spentUsd: number
  savedUsd: number
  upstreamCalls: number
  cacheHits: number
}

export interface RedisHealth {
  usedMemoryBytes: number
  maxmemoryPolicy: string
  keys: number
  connectedClients: number
  /** keyspace_hits / (hits + misses) since the server started; null before any lookup. */
  keyspaceHitRatio: number | null
}

/** What `GET /admin/stats` answers: this instance's view (each instance answers for itself). */
export interface AdminStats {
  version: string
  startedAt: string
  /** To the millisecond: rates computed between two polls need more than whole seconds. */
  uptimeSeconds: number
  /** LLM and pass-through requests (`/v1/*`) only: admin, metrics and health checks are not counted here. */
  requests: { total: number; byCache: { HIT: number; STALE: number; MISS: number; BYPASS: number }; byStatus: Record<string, number> }
  cache: {
    hits: { l1: number; l2: number }
    misses: number
    stale: number
    /** Calls that waited for an identical call in flight: single-flight joins (here or on another instance) and live-stream followers. */
    coalesced: number
    loaderErrors: number
    /** (HIT + STALE) / (HIT + STALE + MISS) of the requests; 0 before any. */
    hitRatio: number
    /** Share of cache lookups each tier answered. */
    tierHitRatio: { l1: number; l2: number }
    l1: { entries: number; bytes: number }
    circuit: 'closed' | 'open' | 'half-open' | 'none'
    bus: 'healthy' | 'down' | 'none'
  }
  upstream: { calls: number; callsAvoided: number; retries: number; errors: Record<string, number>; latency: Quantiles; timeToFirstToken: Quantiles }
  overhead: Quantiles
  money: { spentUsd: number; savedUsd: number; promptTokens: number; completionTokens: number; topTenants: MoneyLine[]; topModels: MoneyLine[] }
  limits: {
    allowed: number
    /** Requests the gateway's limits refused (429); a request refused by several rules counts once here and once per rule in `blocked`. */
    refused: number
    blocked: Record<string, number>
    fallbackDecisions: number
    fallbackSwitches: number
    onFallback: boolean
  }
  /** The gateway's store (the cache's L2 on Redis). */
  store: StoreHealth
  /** The limits' own store, when `limits.store` (or the embedded default) gives them one apart. */
  limitsStore?: StoreHealth
}

export interface StoreHealth {
  kind: string
  name: string
  status: 'ok' | 'degraded' | 'down'
  detail?: string
  redis?: RedisHealth
}

export interface StatsSources {
  version: string
  startedAt: Date
  metrics: GatewayMetrics
  ledger: CostLedger
  cache: Cache
  limits: CallLimits
  store: Store
  limitsStore: Store
}

/** Builds `/admin/stats` from the metrics (one source of truth with `/metrics`), the ledger and the store. */
export async function adminStats(sources: StatsSources): Promise<AdminStats> {
  const { metrics, ledger, cache, limits, store, limitsStore } = sources
  const byCache = { HIT: 0, STALE: 0, MISS: 0, BYPASS: 0 }
  const byStatus: Record<string, number> = Object.create(null) as Record<string, number>
  let total = 0
  for (const { labels, value } of (await metrics.requests.get()).values) {
    if (!String(labels.route).startsWith('/v1/')) continue
    total += value
    const status = String(labels.status)
    byStatus[status] = (byStatus[status] ?? 0) + value
    const cacheStatus = labels.cache as keyof typeof byCache
    if (cacheStatus in byCache) byCache[cacheStatus] += value
  }
  const cacheStats = cache.stats()
  const lookups = cacheStats.hits.l1 + cacheStats.hits.l2 + cacheStats.misses
  const served = byCache.HIT + byCache.STALE
  const decisions = await byLabel(metrics.decisions, 'source')
  const allowed = await byLabel(metrics.decisions, 'decision')
  const lines = ledger.lines()
  const [latency, firstToken, overhead] = await Promise.all([quantiles(metrics.recent.upstream), quantiles(metrics.recent.firstToken), quantiles(metrics.recent.overhead)])
  return {
    version: sources.version,
    startedAt: sources.startedAt.toISOString(),
    uptimeSeconds: (Date.now() - sources.startedAt.getTime()) / 1000,
    requests: { total, byCache, byStatus },
    cache: {
      hits: cacheStats.hits,
      misses: cacheStats.misses,
      stale: cacheStats.stale,
      coalesced: await sum(metrics.coalesced),
      loaderErrors: cacheStats.loaderErrors,
      hitRatio: ratio(served, served + byCache.MISS),
      tierHitRatio: { l1: ratio(cacheStats.hits.l1, lookups), l2: ratio(cacheStats.hits.l2, lookups) },
      l1: cacheStats.l1,
      circuit: cacheStats.circuit,
      bus: cacheStats.bus,
    },
    upstream: {
      calls: await sum(metrics.upstreamCalls),
      callsAvoided: await sum(metrics.callsAvoided),
      retries: await sum(metrics.upstreamRetries),
      errors: await byLabel(metrics.upstreamErrors, 'class'),
      latency,
      timeToFirstToken: firstToken,
    },
    overhead,
    money: {
      spentUsd: lines.reduce((usd, line) => usd + line.spentUsd, 0),
      savedUsd: lines.reduce((usd, line) => usd + line.savedUsd, 0),
      promptTokens: lines.reduce((tokens, line) => tokens + line.promptTokens, 0),
      completionTokens: lines.reduce((tokens, line) => tokens + line.completionTokens, 0),
      topTenants: top(lines, (line) => line.tenant),
      topModels: top(lines, (line) => line.model),
    },
    limits: {
      allowed: allowed.allowed ?? 0,
      refused: allowed.blocked ?? 0,
      blocked: await byLabel(metrics.blocked, 'rule'),
      fallbackDecisions: decisions.fallback ?? 0,
      fallbackSwitches: await sum(metrics.fallbackSwitches),
      onFallback: limits.onFallback,
    },
    store: await storeHealth(store, limitsStore === store && limits.onFallback, cacheStats.bus),
    ...(limitsStore === store ? {} : { limitsStore: await storeHealth(limitsStore, limits.onFallback, 'none') }),
  }
}

async function storeHealth(store: Store, onFallback: boolean, bus: string): Promise<StoreHealth> {
  const health: StoreHealth = { kind: store.kind.startsWith('redis') ? 'redis' : store.kind, name: store.name, status: 'ok' }
  try {
    await store.ping()
  } catch (err) {
    return { ...health, status: 'down', detail: (err as { code?: string }).code ?? 'unreachable' }
  }
  if (onFallback) Object.assign(health, { status: 'degraded', detail: 'limits decided by the fallback' })
  else if (bus === 'down') Object.assign(health, { status: 'degraded', detail: 'invalidation bus down' })
  if (health.kind !== 'redis') return health
  try {
    health.redis = redisHealth(await store.serverInfo())
  } catch {
    // INFO refused (an ACL): the ping said enough.
  }
  return health
}

/** The figures an operator watches on a Redis, from its INFO. */
export function redisHealth(info: Record<string, string>): RedisHealth {
  let keys = 0
  for (const [name, value] of Object.entries(info)) {
    if (/^db\d+$/.test(name)) keys += Number(/keys=(\d+)/.exec(value)?.[1] ?? 0)
  }
  const hits = Number(info.keyspace_hits ?? 0)
  const misses = Number(info.keyspace_misses ?? 0)
  return {
    usedMemoryBytes: Number(info.used_memory ?? 0),
    maxmemoryPolicy: info.maxmemory_policy ?? 'unknown',
    keys,
    connectedClients: Number(info.connected_clients ?? 0),
    keyspaceHitRatio: hits + misses === 0 ? null : hits / (hits + misses),
  }
}

function ratio(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole
}

async function quantiles(windowed: WindowedQuantiles): Promise<Quantiles> {
  const [p50, p95, p99] = await windowed.quantiles([0.5, 0.95, 0.99])
  return { p50: p50 ?? null, p95: p95 ?? null, p99: p99 ?? null }
}

/** A counter family as the registry reads it: prom-client's, or a hot one. */
interface Family {
  get(): Promise<{ values: Array<{ labels: Partial<Record<string, string | number>>; value: number }> }>
}

async function sum(counter: Family): Promise<number> {
  return (await counter.get()).values.reduce((total, { value }) => total + value, 0)
}

async function byLabel(counter: Family, label: string): Promise<Record<string, number>> {
  const totals: Record<string, number> = Object.create(null) as Record<string, number>
  for (const { labels, value } of (await counter.get()).values) {
    const name = String(labels[label])
    totals[name] = (totals[name] ?? 0) + value
  }
  return { ...totals }
}

/** The lines grouped by `name`, the largest spent + saved first. */
function top(lines: CostLine[], name: (line: CostLine) => string): MoneyLine[] {
  const groups = new Map<string, MoneyLine>()
  for (const line of lines) {
    const key = name(line)
    const group = groups.get(key) ?? { name: key, spentUsd: 0, savedUsd: 0, upstreamCalls: 0, cacheHits: 0 }
    group.spentUsd += line.spentUsd
    group.savedUsd += line.savedUsd
    group.upstreamCalls += line.upstreamCalls
    group.cacheHits += line.cacheHits
    groups.set(key, group)
  }
  return [...groups.values()].sort((a, b) => b.spentUsd + b.savedUsd - (a.spentUsd + a.savedUsd)).slice(0, DEFAULTS.metrics.topLines)
}
