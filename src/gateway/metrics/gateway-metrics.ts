import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Cache } from '../../cache/cache.js'
import type { CallLimits } from '../../calls/limits.js'
import type { CallProducer } from '../../calls/producer.js'
import type { Upstream } from '../../calls/upstream.js'
import { DEFAULTS } from '../../core/defaults.js'
import type { Store } from '../../stores/types.js'
import { HotCounter, HotHistogram } from './hot-series.js'
import { LabelCap } from './label-cap.js'
import { WindowedQuantiles } from './windowed-quantiles.js'

/** What the metrics are made of: the capabilities' own events, and state read when scraped. */
export interface MetricSources {
  producer: CallProducer
  upstreams: readonly Upstream[]
  cache: Cache
  limits: CallLimits
  /** The cache's store, and the limits' store when it is another one. */
  stores: ReadonlyArray<{ role: 'cache' | 'limits'; store: Store }>
}

export interface GatewayMetricsOptions {
  /** Distinct tenant label values (see LabelCap). Default 50. */
  maxTenantLabels?: number
  /** Distinct model label values. Default 50. */
  maxModelLabels?: number
  /** Models that hold a label from the start (the configured ones): callers' made-up names cannot crowd them out. */
  models?: readonly string[]
  /** A `key` label on the per-key budget gauge; off: one series per gateway key. Default false. */
  keyLabels?: boolean
  /** Window of the quantiles `/admin/stats` reads. Default 60 s. */
  quantileWindowMs?: number
}

/** Bucket bounds (seconds) of whole-request and upstream times: from a cache hit to a long generation. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120]
/** The gateway's own time on a request: sub-millisecond when all is well. */
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
const CIRCUIT_STATES = ['closed', 'open', 'half-open'] as const

/**
 * The gateway's Prometheus metrics, in a registry of its own (two gateways in one process never
 * share series). Everything is counted from the capabilities' events or read from their stats when
 * scraped: no capability knows prom-client. Names follow Prometheus' conventions: `tollgate_` prefix,
 * `_total` counters, base units (seconds, bytes, USD).
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly #tenants: LabelCap
  readonly #models: LabelCap
  readonly #unsubscribe: Array<() => void> = []
  readonly #quantiles: WindowedQuantiles[] = []
  readonly #storeUp = new Map<string, number>()
  /** The series a request updates, by route, status and cache status (all bounded): one lookup per request. */
  readonly #requestLines = new Map<string, { count: { value: number }; time: HistogramSeries; overhead: HistogramSeries }>()
  /** The series a saving updates, by capped tenant and model labels. */
  readonly #savedLines = new Map<string, { usd: { value: number }; avoided: { value: number }; input: { value: number }; output: { value: number } }>()
  /** Each gateway key's budget left after its latest charge, settlement or reset (micro-USD). */
  readonly #budgets = new Map<string, { remaining: number; limit: number; resetAt: number }>()

  readonly requests: HotCounter
  readonly requestSeconds: HotHistogram
  readonly overheadSeconds: HotHistogram
  readonly cacheHits: HotCounter
  readonly cacheMisses: Counter
  readonly cacheStale: Counter<'reason'>
  readonly coalesced: HotCounter
  readonly loaderErrors: Counter
  readonly callsAvoided: HotCounter
  readonly upstreamCalls: Counter<'upstream' | 'model' | 'outcome'>
  readonly upstreamErrors: Counter<'upstream' | 'class'>
  readonly upstreamRetries: Counter<'upstream' | 'reason'>
  readonly upstreamSeconds: Histogram<'upstream' | 'model'>
  readonly firstTokenSeconds: Histogram<'upstream' | 'model'>
  readonly tokens: HotCounter
  readonly tokensSaved: HotCounter
  readonly spentUsd: HotCounter
  readonly savedUsd: HotCounter
  readonly decisions: HotCounter
  readonly blocked: HotCounter
  readonly fallbackSwitches: Counter
  readonly storeCommandSeconds: Histogram<'store' | 'operation'>
  readonly storeErrors: Counter<'store' | 'kind'>
  /** Quantiles over the last window, for `/admin/stats`. */
  readonly recent: { upstream: WindowedQuantiles; firstToken: WindowedQuantiles; overhead: WindowedQuantiles }

  constructor(sources: MetricSources, options: GatewayMetricsOptions = {}) {
    const registers = [this.registry]
    this.#tenants = new LabelCap(options.maxTenantLabels ?? DEFAULTS.metrics.maxTenantLabels)
    this.#models = new LabelCap(options.maxModelLabels ?? DEFAULTS.metrics.maxModelLabels, options.models)
    collectDefaultMetrics({ register: this.registry, prefix: 'tollgate_' })

    this.requests = new HotCounter('tollgate_http_requests_total', 'HTTP requests answered, by route (the matched pattern, never the raw path), status and cache status (HIT, STALE, MISS, BYPASS; NONE when the request never reached the cache).', ['route', 'status', 'cache'], this.registry)
    this.requestSeconds = new HotHistogram('tollgate_http_request_duration_seconds', 'Time from the request to the last byte of its reply (a stream included).', ['route', 'cache'], LATENCY_BUCKETS, this.registry)
    this.overheadSeconds = new HotHistogram('tollgate_gateway_overhead_seconds', 'Time of an LLM request not spent waiting on an upstream (its own call or the identical one it joined): what the gateway itself costs.', ['route', 'cache'], OVERHEAD_BUCKETS, this.registry)
    this.cacheHits = new HotCounter('tollgate_cache_hits_total', 'Cache lookups answered fresh, by tier (l1 in-process, l2 the store).', ['tier'], this.registry)
    this.cacheMisses = new Counter({ name: 'tollgate_cache_misses_total', help: 'Cache lookups that found nothing.', registers })
    this.cacheStale = new Counter({ name: 'tollgate_cache_stale_total', help: 'Expired entries served within their grace, by why.', labelNames: ['reason'], registers })
    this.coalesced = new HotCounter('tollgate_cache_coalesced_total', 'Calls that waited for an identical call in flight instead of calling the upstream: single-flight (here or on another instance) or a live stream joined.', ['how'], this.registry)
    this.loaderErrors = new Counter({ name: 'tollgate_cache_loader_errors_total', help: 'Upstream calls made for the cache that failed.', registers })
    this.callsAvoided = new HotCounter('tollgate_upstream_calls_avoided_total', 'Replies served without an upstream call of their own (hits, stale, coalesced).', ['tenant', 'model'], this.registry)
    this.upstreamCalls = new Counter({ name: 'tollgate_upstream_calls_total', help: 'Upstream calls that ended, by outcome (ok, or the failure class).', labelNames: ['upstream', 'model', 'outcome'], registers })
    this.upstreamErrors = new Counter({ name: 'tollgate_upstream_errors_total', help: 'Upstream calls that failed, by class: timeout, unreachable, status_429, status_4xx, status_5xx, invalid, incomplete, too_large, aborted.', labelNames: ['upstream', 'class'], registers })
    this.upstreamRetries = new Counter({ name: 'tollgate_upstream_retries_total', help: 'Upstream calls sent again after a 429, a 5xx or a refused connection.', labelNames: ['upstream', 'reason'], registers })
    this.upstreamSeconds = new Histogram({ name: 'tollgate_upstream_duration_seconds', help: 'Upstream call time, from the wait for a connection to the last byte.', labelNames: ['upstream', 'model'], buckets: LATENCY_BUCKETS, registers })
    this.firstTokenSeconds = new Histogram({ name: 'tollgate_upstream_time_to_first_token_seconds', help: 'Time to the first streamed chunk of an upstream stream.', labelNames: ['upstream', 'model'], buckets: LATENCY_BUCKETS, registers })
    this.tokens = new HotCounter('tollgate_tokens_total', 'Tokens paid for upstream, by type (input, output).', ['tenant', 'model', 'type'], this.registry)
    this.tokensSaved = new HotCounter('tollgate_tokens_saved_total', 'Tokens the cache served without paying for them again, by type (input, output).', ['tenant', 'model', 'type'], this.registry)
    this.spentUsd = new HotCounter('tollgate_spent_usd_total', 'USD paid upstream, by the pricing table.', ['tenant', 'model'], this.registry)
    this.savedUsd = new HotCounter('tollgate_saved_usd_total', 'USD the cache saved: what the replies it served would have cost again.', ['tenant', 'model'], this.registry)
    this.decisions = new HotCounter('tollgate_ratelimit_decisions_total', 'Rate-limit decisions, allowed or blocked, by who decided (store, or the fallback while the store is down).', ['decision', 'source'], this.registry)
    this.blocked = new HotCounter('tollgate_ratelimit_blocked_total', 'Requests refused (429), by the rule that refused them.', ['rule'], this.registry)
    this.fallbackSwitches = new Counter({ name: 'tollgate_ratelimit_fallback_switches_total', help: 'Times the limits moved to their fallback because the store failed.', registers })
    this.storeCommandSeconds = new Histogram({ name: 'tollgate_store_command_duration_seconds', help: 'Store command time (Redis stores), by store role (cache, limits) and operation.', labelNames: ['store', 'operation'], buckets: OVERHEAD_BUCKETS, registers })
    this.storeErrors = new Counter({ name: 'tollgate_store_errors_total', help: 'Store commands that failed, by store role and kind (the error code: E_STORE_TIMEOUT, E_STORE_UNAVAILABLE, E_STORE_COMMAND, ...).', labelNames: ['store', 'kind'], registers })

    const { cache, limits } = sources
    const onFallback = () => (limits.onFallback ? 1 : 0)
    new Gauge({ name: 'tollgate_ratelimit_on_fallback', help: '1 while the limits are decided by the fallback policy instead of the store.', registers, collect: gaugeOf(onFallback) })
    new Gauge({ name: 'tollgate_ratelimit_circuit_state', help: 'The limits store circuit: 1 for the current state.', labelNames: ['state'], registers, collect: stateSet(() => limits.circuit(), CIRCUIT_STATES) })
    new Gauge({ name: 'tollgate_cache_circuit_state', help: "The cache's L2 circuit: 1 for the current state (none: no L2).", labelNames: ['state'], registers, collect: stateSet(() => cache.stats().circuit, [...CIRCUIT_STATES, 'none']) })
    if (cache.stats().bus !== 'none') {
      new Gauge({ name: 'tollgate_cache_bus_up', help: '1 while the invalidation bus is subscribed, 0 while it is down (absent without a bus: the embedded default).', registers, collect: gaugeOf(() => (cache.stats().bus === 'healthy' ? 1 : 0)) })
    }
    new Gauge({ name: 'tollgate_cache_l1_entries', help: 'Entries in the in-process cache tier.', registers, collect: gaugeOf(() => cache.stats().l1.entries) })
    new Gauge({ name: 'tollgate_cache_l1_bytes', help: 'Bytes held by the in-process cache tier.', registers, collect: gaugeOf(() => cache.stats().l1.bytes) })
    const budgets = this.#budgets
    // A key that stopped calling keeps its last figure until its window starts over: then it has it all again.
    const left = (budget: { remaining: number; limit: number; resetAt: number }) => (Date.now() >= budget.resetAt ? budget.limit : budget.remaining)
    new Gauge({
      name: 'tollgate_budget_remaining_ratio_min',
      help: "The lowest share of its daily budget any gateway key has left (1: untouched, or no budgets): the alert's view without a series per key.",
      registers,
      collect: gaugeOf(() => Math.min(1, ...[...budgets.values()].map((budget) => left(budget) / budget.limit))),
    })
    if (options.keyLabels) {
      new Gauge({
        name: 'tollgate_budget_remaining_usd',
        help: 'USD each gateway key has left of its daily budget, after its latest call (keyLabels: true).',
        labelNames: ['key'],
        registers,
        collect() {
          for (const [key, budget] of budgets) this.set({ key }, left(budget) / 1_000_000)
        },
      })
    }
    const storeUp = this.#storeUp
    new Gauge({
      name: 'tollgate_store_up',
      help: '1 while the store connection is up, by store role.',
      labelNames: ['store'],
      registers,
      collect() {
        for (const [role, up] of storeUp) this.set({ store: role }, up)
      },
    })
    this.recent = {
      upstream: new WindowedQuantiles(this.upstreamSeconds, LATENCY_BUCKETS, options.quantileWindowMs ?? DEFAULTS.metrics.quantileWindowSeconds * 1000),
      firstToken: new WindowedQuantiles(this.firstTokenSeconds, LATENCY_BUCKETS, options.quantileWindowMs ?? DEFAULTS.metrics.quantileWindowSeconds * 1000),
      overhead: new WindowedQuantiles(this.overheadSeconds, OVERHEAD_BUCKETS, options.quantileWindowMs ?? DEFAULTS.metrics.quantileWindowSeconds * 1000),
    }
    this.#quantiles.push(this.recent.upstream, this.recent.firstToken, this.recent.overhead)
    this.#subscribe(sources)
  }

  /** One answered HTTP request; `upstreamSeconds` set for an LLM call (its overhead is the rest). */
  observeRequest(route: string, status: number, cache: string, seconds: number, upstreamSeconds: number | undefined): void {
    const id = `${route} ${status} ${cache}`
    let line = this.#requestLines.get(id)
    if (!line) {
      line = { count: this.requests.series([route, String(status), cache]), time: this.requestSeconds.series([route, cache]), overhead: this.overheadSeconds.series([route, cache]) }
      this.#requestLines.set(id, line)
    }
    line.count.value++
    this.requestSeconds.record(line.time, seconds)
    if (upstreamSeconds !== undefined) this.overheadSeconds.record(line.overhead, Math.max(0, seconds - upstreamSeconds))
  }

  /** The tenant label a tenant is counted under (itself, or `other` past the cap). */
  tenant(name: string): string {
    return this.#tenants.value(name)
  }

  /** The model label a model is counted under. */
  model(name: string): string {
    return this.#models.value(name)
  }

  /** The exposition text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics()
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    for (const quantiles of this.#quantiles) quantiles.close()
    this.registry.clear()
  }

  #subscribe({ producer, upstreams, cache, limits, stores }: MetricSources): void {
    const on = this.#unsubscribe
    let allowedByStore: { value: number } | undefined
    on.push(
      producer.events.on('spent', ({ tenant, model, usd, promptTokens, completionTokens }) => {
        const t = this.tenant(tenant)
        const m = this.model(model)
        this.spentUsd.inc([t, m], usd)
        this.tokens.inc([t, m, 'input'], promptTokens)
        this.tokens.inc([t, m, 'output'], completionTokens)
      }),
      producer.events.on('saved', ({ tenant, model, usd, promptTokens, completionTokens }) => {
        const t = this.tenant(tenant)
        const m = this.model(model)
        const id = `${t}\n${m}`
        let line = this.#savedLines.get(id)
        if (!line) {
          line = { usd: this.savedUsd.series([t, m]), avoided: this.callsAvoided.series([t, m]), input: this.tokensSaved.series([t, m, 'input']), output: this.tokensSaved.series([t, m, 'output']) }
          this.#savedLines.set(id, line)
        }
        line.usd.value += usd
        line.avoided.value++
        line.input.value += promptTokens
        line.output.value += completionTokens
      }),
      producer.events.on('stream-joined', () => this.coalesced.inc(['live-stream'])),
      producer.events.on('upstream', ({ upstream, model, seconds, firstTokenSeconds, failure }) => {
        // Only a call that was answered earns its model a label: a flood of made-up names that the
        // upstream refuses (free to send) must not take every slot.
        const m = failure ? this.#models.known(model) : this.model(model)
        this.upstreamCalls.labels(upstream, m, failure ?? 'ok').inc()
        if (failure) this.upstreamErrors.labels(upstream, failure).inc()
        // A call aborted or failed before it answered says nothing about the upstream's speed.
        else this.upstreamSeconds.labels(upstream, m).observe(seconds)
        if (firstTokenSeconds !== undefined) this.firstTokenSeconds.labels(upstream, m).observe(firstTokenSeconds)
      }),
      cache.events.on('hit', ({ tier }) => this.cacheHits.inc([tier])),
      cache.events.on('miss', () => this.cacheMisses.inc()),
      cache.events.on('stale', ({ reason }) => this.cacheStale.labels(reason).inc()),
      cache.events.on('coalesced', () => this.coalesced.inc(['single-flight'])),
      cache.events.on('loader-error', () => this.loaderErrors.inc()),
      // Keys are the config's, not the callers': a bounded set.
      limits.events.on('budget', ({ key, remaining, limit, resetAt }) => {
        // In place: every call of a key with a budget reports one.
        const known = this.#budgets.get(key)
        if (known === undefined) this.#budgets.set(key, { remaining, limit, resetAt })
        else {
          known.remaining = remaining
          known.limit = limit
          known.resetAt = resetAt
        }
      }),
      limits.events.on('decision', ({ decision }) => {
        // Held, not looked up by its labels joined: nearly every call of a key with limits is this one.
        if (decision.allowed && decision.source === 'store') {
          ;(allowedByStore ??= this.decisions.series(['allowed', 'store'])).value++
          return
        }
        this.decisions.inc([decision.allowed ? 'allowed' : 'blocked', decision.source])
        if (decision.allowed) return
        for (const rule of decision.rules) if (!rule.allowed) this.blocked.inc([rule.name])
      }),
      limits.events.on('fallback-on', () => this.fallbackSwitches.inc()),
    )
    for (const upstream of upstreams) on.push(upstream.events.on('retry', ({ reason }) => this.upstreamRetries.labels(upstream.name, reason).inc()))
    for (const { role, store } of stores) {
      // Memory and memcached stores have no connection events: up unless a command says otherwise.
      this.#storeUp.set(role, store.kind.startsWith('redis') ? 0 : 1)
      on.push(
        store.events.on('ready', () => this.#storeUp.set(role, 1)),
        store.events.on('disconnect', () => this.#storeUp.set(role, 0)),
        store.events.on('command', ({ operation, seconds, error }) => {
          this.storeCommandSeconds.labels(role, operation).observe(seconds)
          if (error) this.storeErrors.labels(role, (error as { code?: string }).code ?? 'error').inc()
        }),
      )
    }
  }
}

type HistogramSeries = ReturnType<HotHistogram['series']>

/** A gauge's collect that sets it to `read()`. */
function gaugeOf(read: () => number): (this: Gauge) => void {
  return function (this: Gauge) {
    this.set(read())
  }
}

/** A state-set gauge's collect: 1 for the current state, 0 for the others. */
function stateSet(read: () => string, states: readonly string[]): (this: Gauge<'state'>) => void {
  return function (this: Gauge<'state'>) {
    const current = read()
    for (const state of states) this.set({ state }, state === current ? 1 : 0)
  }
}
