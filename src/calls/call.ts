import type { Cache } from '../cache/cache.js'
import type { Clock } from '../core/clock.js'
import { UpstreamError } from '../core/errors.js'
import type { TypedEmitter } from '../core/events.js'
import { memoisedRequestCacheKey, requestCacheKey } from '../llm/canonical.js'
import { completionProblem } from '../llm/completion-shape.js'
import { costUsd, type ModelPrice } from '../llm/pricing.js'
import { replayPayloads, withoutUsage } from '../llm/sse-replay.js'
import type { Completion, StreamAssembler, Usage } from '../llm/stream-assembler.js'
import { estimateOutputTokens, estimatePromptTokens, usageOf } from '../llm/usage-estimate.js'
import type { CostLedger } from './cost-ledger.js'
import { type CallEvents, failureClass } from './events.js'
import type { CallLimits, Charge } from './limits.js'
import { LiveStream, type LiveStreamBounds, type LiveStreams } from './live-streams.js'
import { relayStream } from './relay.js'
import type { CallKind, CallOutcome, CallRequest, CallResult, CacheStatus } from './types.js'
import type { UpstreamResponse } from './upstream.js'

const UPSTREAM_ROUTE: Record<CallKind, string> = { chat: '/chat/completions', text: '/completions', embeddings: '/embeddings' }

/** What a call needs from the producer that runs it. */
export interface CallDeps {
  cache: Cache
  live: LiveStreams
  ledger: CostLedger
  limits: CallLimits | undefined
  clock: Clock
  /** How far a stream is read ahead of its fastest reader, and how much of it is kept for late joiners. */
  streams: LiveStreamBounds
  /** Streams whose upstream waits for a reader to catch up, right now. */
  heldBack: { count: number }
  events: TypedEmitter<CallEvents>
}

/**
 * One call's way to its answer: a live stream it joins, the cache (single-flight, grace), or its own
 * upstream call. The upstream call is made by {@link fetch}, which settles what it cost whoever ends
 * up reading its answer; replies served without one are settled as savings.
 */
export class Call {
  readonly #stream: boolean
  readonly #includeUsage: boolean
  readonly #upstreamBody: Record<string, unknown>
  readonly #key: string
  readonly #cache: Cache
  #promptTokens: number | undefined
  /** How long this call waited on an upstream: its own call, or the identical one it joined. */
  #upstreamMs = 0

  constructor(
    private readonly deps: CallDeps,
    private readonly request: CallRequest,
    private readonly charge: Charge | undefined,
    private readonly price: ModelPrice | undefined,
    promptTokens: number | undefined,
  ) {
    this.#promptTokens = promptTokens
    const { body, kind, route } = request
    this.#stream = body.stream === true && kind !== 'embeddings'
    this.#includeUsage = (body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true
    // Streams always ask upstream for usage: cost accounting and the cached entry need it. The body is
    // copied only when it must change (an alias, a stream): the common call sends it as it came.
    this.#upstreamBody =
      this.#stream || body.model !== route.model
        ? { ...body, model: route.model, ...(this.#stream ? { stream_options: { ...(body.stream_options as object), include_usage: true } } : {}) }
        : body
    // The upstream body differs from the client's only in fields the key leaves out or replaces (the
    // stream options, the model), so a key memoised for the client's body is this body's key too.
    this.#key = request.keyMemo
      ? memoisedRequestCacheKey(request.keyMemo, UPSTREAM_ROUTE[kind], this.#upstreamBody, route.model, request.policy.partition)
      : requestCacheKey(UPSTREAM_ROUTE[kind], this.#upstreamBody, route.model, request.policy.partition)
    this.#cache = deps.cache.namespaced(request.policy.namespace)
  }

  answer(): Promise<CallOutcome> {
    const { policy } = this.request
    if (!policy.read && !policy.write) return this.#own('BYPASS', false)
    if (policy.read && this.#stream) {
      const live = this.deps.live.get(policy.namespace, this.#key)
      if (live) return this.#follow(live)
    }
    if (!policy.read) return this.#own('MISS', true)
    return this.#cached()
  }

  /** The charge goes back: the call failed before any upstream call of its own settled it. */
  refund(): void {
    if (this.charge && !this.charge.settled) this.deps.limits?.settle(this.charge, null)
  }

  async #cached(): Promise<CallOutcome> {
    const { policy } = this.request
    const own = this.#stream ? new LiveStream(this.deps.streams) : undefined
    const asked = performance.now()
    const entry = this.#cache.getOrSetEntry<Completion>(this.#key, (load) => this.#fetch(own, true, undefined, load.skip), { ttl: policy.ttlMs, tags: policy.tags })
    if (own && (await startedFirst(own, entry))) return this.#live('MISS', own)
    const result = await entry
    if (result.status === 'coalesced') this.#upstreamMs = performance.now() - asked
    if (result.status === 'miss') return this.#answered('MISS', result.value)
    const tooOld = policy.maxAgeMs !== undefined && this.deps.clock.now() - result.createdAt > policy.maxAgeMs
    // An entry that is not a completion (written by an older version, or by hand) is never replayed.
    if (tooOld || !isReplayable(this.request.kind, result.value)) return this.#own('MISS', true)
    return this.#served(result.status === 'stale' ? 'STALE' : 'HIT', result.value, result.createdAt)
  }

  /** An upstream call of this caller's own, outside the cache's single-flight; `write` caches its answer. */
  async #own(status: CacheStatus, write: boolean): Promise<CallOutcome> {
    const own = this.#stream ? new LiveStream(this.deps.streams) : undefined
    // Nobody else needs an uncached answer: when this caller goes, the upstream call goes too. A JSON
    // call goes with the caller's own signal; a stream also goes when its reader stops reading.
    let signal = write ? undefined : this.request.signal
    if (own && !write) {
      const abort = new AbortController()
      const caller = this.request.signal
      if (caller?.aborted) abort.abort()
      else caller?.addEventListener('abort', () => abort.abort(), { once: true })
      own.onIdle = () => abort.abort()
      signal = abort.signal
    }
    const answer = this.#fetch(own, write, signal)
    const policy = this.request.policy
    if (write) answer.then((value) => this.#cache.set(this.#key, value, { ttl: policy.ttlMs, tags: policy.tags })).catch(() => {})
    if (own && (await startedFirst(own, answer))) return this.#live(status, own)
    return this.#answered(status, await answer)
  }

  /** Joins a stream in flight under the same namespace and key: served like a hit, live. */
  async #follow(live: LiveStream): Promise<CallOutcome> {
    this.refund()
    const joined = performance.now()
    this.deps.events.emit('stream-joined', { tenant: this.request.caller.tenant, model: this.request.route.model })
    const waited = () => (this.#upstreamMs = performance.now() - joined)
    live.result.then(waited, waited)
    live.result.then((completion) => this.#saved(completion), () => {})
    const first = await Promise.race([live.started.then(() => live), live.result])
    if (first === live) return this.#live('HIT', live)
    return this.#outcome('HIT', first as Completion, 0, undefined, this.#costOf(first as Completion))
  }

  /**
   * The upstream call: relays a stream into `live` (when the caller streams and the upstream does),
   * else reads and checks the JSON reply. Settles the cost with the charge and the ledger whatever
   * happens; throws an {@link UpstreamError} when there is no completion to show for it.
   */
  async #fetch(live: LiveStream | undefined, joinable: boolean, signal?: AbortSignal, uncacheable?: () => void): Promise<Completion> {
    const { route, kind, policy } = this.request
    if (live && joinable) this.deps.live.register(policy.namespace, this.#key, live)
    const sent = performance.now()
    let response: UpstreamResponse
    try {
      // The caller leaving drops the call while it waits for a connection, even one the cache wants.
      const queueSignal = this.request.signal
      response = await route.upstream.call({ route: UPSTREAM_ROUTE[kind], body: this.#upstreamBody, model: route.model, signal, queueSignal, tenant: this.request.caller.tenant })
    } catch (err) {
      const failure = route.upstream.failure(err)
      // A call cut by its caller reached the provider, which bills its prompt at least; one dropped
      // while it waited for a connection cost nothing.
      this.#spent(failure.code === 'E_UPSTREAM_ABORTED' && failure.sent ? usageOf(this.#prompt(), 0) : null)
      this.#upstreamEnded(sent, undefined, failure)
      live?.fail(failure)
      throw failure
    }
    if (live && response.contentType.includes('text/event-stream')) return this.#relay(response, live, joinable, sent, uncacheable)
    let value: unknown
    try {
      value = await route.upstream.readJson(response)
      const problem = completionProblem(kind, value)
      if (problem) throw new UpstreamError('E_UPSTREAM_INVALID', route.upstream.name, `answered ${response.status} with something that is not a completion: ${problem}`)
    } catch (err) {
      const failure = route.upstream.failure(err)
      // A reply that arrived but is garbage, or too large to read, was still a call the provider may bill: its prompt at least.
      this.#spent(failure.code === 'E_UPSTREAM_INVALID' || failure.code === 'E_UPSTREAM_TOO_LARGE' ? usageOf(this.#prompt(), 0) : null)
      this.#upstreamEnded(sent, undefined, failure)
      live?.fail(failure)
      throw failure
    }
    const completion = value as Completion
    this.#upstreamEnded(sent)
    this.#spent(this.#usage(completion))
    live?.end(completion)
    return completion
  }

  async #relay(response: UpstreamResponse, live: LiveStream, cached: boolean, sent: number, uncacheable?: () => void): Promise<Completion> {
    const { route, kind } = this.request
    let firstToken: number | undefined
    live.started.then(() => (firstToken = performance.now()), () => {})
    const { assembler, failure } = await relayStream(response, live, route.upstream, kind === 'text' ? 'text' : 'chat', this.deps.heldBack, cached ? this.#cacheable(uncacheable) : undefined)
    this.#upstreamEnded(sent, firstToken, failure)
    if (!failure) {
      const completion = assembler.result()
      this.#spent(this.#usage(completion))
      live.push('[DONE]')
      live.end(completion)
      return completion
    }
    // The provider bills what it generated before the stream broke or was cut.
    this.#spent(usageOf(this.#prompt(), assembler.chunks > 0 ? estimateOutputTokens(assembler.result()) : 0))
    live.fail(failure)
    throw failure
  }

  /**
   * For a stream the cache wants: whether its answer so far could still be cached, looked at each time
   * another quarter of the cache's entry bound was relayed. Once it cannot, it never can again (an
   * answer only grows): `uncacheable` is told once, so followers on other instances stop waiting.
   */
  #cacheable(uncacheable?: () => void): (assembler: StreamAssembler, relayed: number) => boolean {
    const max = this.#cache.maxEntryBytes
    let next = 0
    let fits = true
    return (assembler, relayed) => {
      if (!fits || relayed < next) return fits
      next = relayed + max / 4
      fits = JSON.stringify(assembler.result()).length <= max
      if (!fits) uncacheable?.()
      return fits
    }
  }

  /** Reports an upstream call that ended (`failure`: how it failed) and keeps how long it took. */
  #upstreamEnded(sent: number, firstToken?: number, failure?: UpstreamError): void {
    const { route, caller } = this.request
    this.#upstreamMs = performance.now() - sent
    this.deps.events.emit('upstream', {
      upstream: route.upstream.name,
      model: route.model,
      tenant: caller.tenant,
      seconds: this.#upstreamMs / 1000,
      ...(firstToken !== undefined ? { firstTokenSeconds: (firstToken - sent) / 1000 } : {}),
      ...(failure ? { failure: failureClass(failure) } : {}),
    })
  }

  /** The prompt's estimated tokens, worked out once and only when needed (a hit without limits never needs it). */
  #prompt(): number {
    this.#promptTokens ??= estimatePromptTokens(this.request.body)
    return this.#promptTokens
  }

  /** A reply's usage, or an estimate when the upstream sent none: what it is charged, and what a hit on it saves. */
  #usage(completion: Completion): Usage {
    return completion.usage ?? usageOf(this.#prompt(), estimateOutputTokens(completion))
  }

  /** Records an upstream call's cost (null: it cost nothing) and settles the charge with it. */
  #spent(usage: Usage | null): void {
    const { caller, route } = this.request
    if (usage) {
      const usd = costUsd(this.price, usage)
      const promptTokens = usage.prompt_tokens ?? 0
      const completionTokens = usage.completion_tokens ?? 0
      this.deps.ledger.record(caller.tenant, route.model, false, usd, promptTokens, completionTokens)
      this.deps.events.emit('spent', { tenant: caller.tenant, model: route.model, usd, promptTokens, completionTokens })
    }
    if (this.charge) this.deps.limits?.settle(this.charge, usage)
  }

  /** Records what serving `completion` without an upstream call saved. */
  #saved(completion: Completion): number {
    const usage = this.#usage(completion)
    const saved = costUsd(this.price, usage)
    const { caller, route } = this.request
    const promptTokens = usage.prompt_tokens ?? 0
    const completionTokens = usage.completion_tokens ?? 0
    this.deps.ledger.record(caller.tenant, route.model, true, saved, promptTokens, completionTokens)
    this.deps.events.emit('saved', { tenant: caller.tenant, model: route.model, usd: saved, promptTokens, completionTokens })
    return saved
  }

  #costOf(completion: Completion): number {
    return costUsd(this.price, this.#usage(completion))
  }

  #served(status: CacheStatus, completion: Completion, createdAt: number): CallOutcome {
    this.refund()
    const saved = this.#saved(completion)
    const age = Math.max(0, Math.floor((this.deps.clock.now() - createdAt) / 1000))
    return this.#outcome(status, completion, age, undefined, saved)
  }

  #answered(status: CacheStatus, completion: Completion): CallOutcome {
    return this.#outcome(status, completion, 0, this.#costOf(completion), undefined)
  }

  #outcome(cache: CacheStatus, completion: Completion, ageSeconds: number, costUsd: number | undefined, savedUsd: number | undefined): CallOutcome {
    return new WholeOutcome(cache, this.#key, this.#upstreamMs / 1000, ageSeconds, this.charge, completion, costUsd, savedUsd, this.request.kind === 'text' ? 'text' : 'chat', this.#includeUsage)
  }

  #live(cache: CacheStatus, live: LiveStream): CallOutcome {
    const includeUsage = this.#includeUsage
    const result = live.result.then((completion) => (cache === 'HIT' ? { completion, savedUsd: this.#costOf(completion) } : { completion, costUsd: this.#costOf(completion) }))
    // Nobody may ask for it: a broken stream is reported through events(), never as an unhandled rejection.
    result.catch(() => {})
    return {
      result,
      cache,
      cacheKey: this.#key,
      upstreamSeconds: () => this.#upstreamMs / 1000,
      ageSeconds: 0,
      charge: this.charge,
      completion: undefined,
      costUsd: undefined,
      savedUsd: undefined,
      events: () => (includeUsage ? live.read() : stripped(live.read())),
      abandon: () => live.abandon(),
    }
  }
}

/**
 * The outcome of a call whose whole completion is at hand (every hit). A class, not an object literal:
 * its `result` getter lives on the prototype, so a hit makes one object, not a getter-holding object
 * (slow to read from) and three closures.
 */
class WholeOutcome implements CallOutcome {
  constructor(
    readonly cache: CacheStatus,
    readonly cacheKey: string,
    private readonly upstream: number,
    readonly ageSeconds: number,
    readonly charge: Charge | undefined,
    readonly completion: Completion,
    readonly costUsd: number | undefined,
    readonly savedUsd: number | undefined,
    private readonly kind: 'chat' | 'text',
    private readonly includeUsage: boolean,
  ) {}

  upstreamSeconds(): number {
    return this.upstream
  }

  events(): AsyncIterable<string> {
    return replay(this.completion, this.kind, this.includeUsage)
  }

  abandon(): void {}

  // A getter: most callers of a whole completion never ask, and a hit should not pay for a promise.
  get result(): Promise<CallResult> {
    const { completion, costUsd, savedUsd } = this
    return Promise.resolve({ completion, ...(costUsd !== undefined ? { costUsd } : {}), ...(savedUsd !== undefined ? { savedUsd } : {}) })
  }
}

/**
 * Whether `own` began to stream before `pending` (the whole answer, or the cache's verdict) settled.
 * The loser is left to settle on its own, its failure already reported through the stream.
 */
async function startedFirst(own: LiveStream, pending: Promise<unknown>): Promise<boolean> {
  const first = await Promise.race([own.started.then(() => own), pending])
  if (first !== own) return false
  pending.catch(() => {})
  return true
}

/**
 * Entries already checked, by object: an L1 hit hands out the same object every time, so its shape is
 * checked once (weakly held: it goes when L1 drops the entry), not on every hit.
 */
const replayable = new WeakSet<object>()
function isReplayable(kind: CallKind, value: unknown): boolean {
  if (value !== null && typeof value === 'object' && replayable.has(value)) return true
  if (completionProblem(kind, value)) return false
  replayable.add(value as object)
  return true
}

async function* replay(completion: Completion, kind: 'chat' | 'text', includeUsage: boolean): AsyncGenerator<string> {
  yield* replayPayloads(completion, kind, includeUsage)
}

async function* stripped(payloads: AsyncGenerator<string>): AsyncGenerator<string> {
  for await (const payload of payloads) {
    const kept = withoutUsage(payload)
    if (kept !== undefined) yield kept
  }
}
