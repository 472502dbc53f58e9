import type { Cache } from '../cache/cache.js'
import { type Clock, systemClock } from '../core/clock.js'
import { DEFAULTS } from '../core/defaults.js'
import { RateLimitedError } from '../core/errors.js'
import type { Pricing } from '../llm/pricing.js'
import { estimatePromptTokens, maxOutputTokens } from '../llm/usage-estimate.js'
import { Call, type CallDeps } from './call.js'
import { CostLedger } from './cost-ledger.js'
import type { CallLimits, Charge } from './limits.js'
import { LiveStreams } from './live-streams.js'
import type { CallOutcome, CallRequest } from './types.js'
import type { CallEvents } from './events.js'
import { TypedEmitter } from '../core/events.js'

export interface CallProducerOptions {
  /** Where answers are cached; each call names its namespace (which carries the tenant). */
  cache: Cache
  /** Prices, and what an unpriced model costs. */
  pricing: Pricing
  /** Rate limits, token limits and budgets; none when left out. */
  limits?: CallLimits | undefined
  /** Spend and savings per tenant and model. Default a new, empty ledger. */
  ledger?: CostLedger
  /** The clock ages and max-age are measured with; the cache's own clock should be the same. Default the system clock. */
  clock?: Clock
  /**
   * How far a stream is read from the upstream ahead of its fastest reader before the upstream is
   * made to wait: a client that stops reading stops the upstream, not fills the gateway's memory. Default 256 KiB.
   */
  streamReadAheadBytes?: number
  /**
   * How much of a stream (in payload characters) is kept for callers that join it late; past it, or
   * once every reader left, it is no longer joinable and only what its readers have not taken is kept.
   * Default 4 MiB.
   */
  joinableStreamBytes?: number
}

/**
 * The LLM-call producer: given a routed, validated call it produces one answer — from a live stream
 * of an identical call in flight, from the cache (single-flight across instances, grace), or from its
 * own upstream call (retries, SSE assembly, publication to live followers, caching) — and accounts for
 * it: the limiter's charge settled with the real usage, cost spent or saved in the ledger. It knows no
 * transport: the gateway's responders and the SDK integrations turn a {@link CallOutcome} into what
 * their caller needs.
 */
export class CallProducer {
  readonly ledger: CostLedger
  /** Spend, savings, joined streams and upstream calls as they happen (see {@link CallEvents}). */
  readonly events = new TypedEmitter<CallEvents>()
  readonly #options: CallProducerOptions
  readonly #deps: CallDeps

  constructor(options: CallProducerOptions) {
    this.ledger = options.ledger ?? new CostLedger()
    this.#options = options
    this.#deps = {
      cache: options.cache,
      live: new LiveStreams(),
      ledger: this.ledger,
      limits: options.limits,
      clock: options.clock ?? systemClock,
      streams: {
        readAhead: options.streamReadAheadBytes ?? DEFAULTS.gateway.streamReadAheadBytes,
        joinable: options.joinableStreamBytes ?? DEFAULTS.gateway.joinableStreamBytes,
      },
      heldBack: { count: 0 },
      events: this.events,
    }
  }

  /**
   * Starts a call and resolves once it can be answered: a whole completion, or a live stream that has
   * begun. Throws `E_RATE_LIMITED` (with the charge, for the 429 headers), `E_MODEL_NOT_PRICED`, or
   * an `UpstreamError` when the upstream failed before anything could be answered.
   */
  async start(request: CallRequest): Promise<CallOutcome> {
    const { pricing, limits } = this.#options
    const { kind, body, route, caller } = request
    const price = pricing.priceFor(route.model)
    const promptTokens = limits?.covers(caller) ? (request.keyMemo ? memoisedPromptTokens(body) : estimatePromptTokens(body)) : undefined
    const charge = promptTokens === undefined ? undefined : await limits?.charge(caller, route.model, request.user, price, promptTokens, kind === 'embeddings' ? 0 : maxOutputTokens(body))
    if (charge && !charge.decision.allowed) throw new RateLimitedError<Charge>(`Rate limit reached for ${refusedRule(charge)}`, charge)
    const call = new Call(this.#deps, request, charge, price, promptTokens)
    if (!charge) return call.answer()
    try {
      return await call.answer()
    } catch (err) {
      call.refund()
      throw err
    }
  }

  /** Streams whose upstream is waiting, right now, for a slow reader to take what was already read. */
  get streamsHeldBack(): number {
    return this.#deps.heldBack.count
  }

  /** Calls in flight that others can join, in this process. */
  get liveCalls(): number {
    return this.#deps.live.size
  }
}

/**
 * Prompt estimates of bodies that never change (those that come with a key memo), by object and
 * weakly: the gateway hands out one frozen object for the same bytes, and every hit with limits is
 * charged its estimate, which is a walk over the whole prompt.
 */
const promptEstimates = new WeakMap<object, number>()
function memoisedPromptTokens(body: Record<string, unknown>): number {
  let tokens = promptEstimates.get(body)
  if (tokens === undefined) promptEstimates.set(body, (tokens = estimatePromptTokens(body)))
  return tokens
}

function refusedRule(charge: Charge): string {
  return charge.decision.rules.find((rule) => !rule.allowed)?.name ?? 'a rule'
}
