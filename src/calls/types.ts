import type { ModelPrice } from '../llm/pricing.js'
import type { Completion } from '../llm/stream-assembler.js'
import type { RateLimitDecision } from '../ratelimit/types.js'
import type { Route } from './router.js'
import type { CallScopes } from './settlements.js'

export type CallKind = 'chat' | 'text' | 'embeddings'

/** What one call took from its limits up front, to be settled once what it really cost is known. */
export interface Charge {
  caller: Caller
  model: string
  user: string | undefined
  /** The counters it was taken from, by scope: the key, the model and the end user (when there is one). */
  scopes: CallScopes
  price: ModelPrice | undefined
  /** The up-front estimate: prompt tokens (by size) plus the most output the request allows. */
  promptTokens: number
  tokens: number
  microUsd: number
  decision: RateLimitDecision
  /** Window of each rule, for the RateLimit-Policy header. */
  windows: Record<string, number>
  /** Set once the estimate was replaced by a real figure (or refunded). */
  settled: boolean
}

/** Who is calling: the tenant scopes the cache and the limits, the key names the limits block. */
export interface Caller {
  tenant: string
  /** The gateway key's name; `anonymous` without keys. */
  key: string
}

/** What the cache may do for one call. */
export interface CachePolicy {
  read: boolean
  write: boolean
  /** Why neither (reported as BYPASS). */
  bypass?: string
  ttlMs: number
  /** A hit older than this is not good enough (`Cache-Control: max-age=N`). */
  maxAgeMs?: number
  /** The cache namespace of the call; it carries the tenant (or a shared name). Live streams are keyed by it too. */
  namespace: string
  /**
   * Who inside the namespace may read the call's entry (an end user, a gateway key), hashed into its
   * key; undefined: everyone in the namespace. A partition, unlike a namespace of its own, is covered
   * by the namespace's tag invalidations and clears.
   */
  partition?: string | undefined
  tags: string[]
}

/** `HIT` includes callers served by another caller's upstream call (single-flight, live stream). */
export type CacheStatus = 'HIT' | 'STALE' | 'MISS' | 'BYPASS'

/** One LLM call, as a transport (the gateway, an SDK wrapper) hands it to the producer. */
export interface CallRequest {
  kind: CallKind
  /** The client's request body, validated; `model` as the client named it. */
  body: Record<string, unknown>
  /** Where it goes, with the model name the upstream knows (aliases resolved). */
  route: Route
  caller: Caller
  /** The end user inside the tenant (the body's `user` or a header), for per-user limits. */
  user?: string | undefined
  policy: CachePolicy
  /**
   * Aborted when the caller is gone. The upstream call is then cut unless the cache still wants its
   * answer (then it finishes, is cached, and serves the next caller); a call still waiting for an
   * upstream connection is dropped either way, before it costs anything.
   */
  signal?: AbortSignal | undefined
  /**
   * Cache keys already worked out for this very body, by route, model and partition; the producer
   * reads and fills it. Only for a body that never changes (the gateway's are frozen): a key memoised
   * for a body written to afterwards would serve another request's answer.
   */
  keyMemo?: Map<string, string> | undefined
}

/** The whole answer of a call and what it cost or saved, once produced. */
export interface CallResult {
  completion: Completion
  /** USD the upstream call cost (MISS/BYPASS). */
  costUsd?: number
  /** USD a reply served without an upstream call saved (HIT/STALE). */
  savedUsd?: number
}

/** How a call was answered, once known; what settles after the reply is read. */
export interface CallOutcome {
  readonly cache: CacheStatus
  /** The call's cache key (SHA-256 of the canonical request, hex), as `cache.delete` takes it in the call's namespace. */
  readonly cacheKey: string
  /** Seconds since the answer was produced (0 for a live one). */
  readonly ageSeconds: number
  /**
   * Seconds the call waited on an upstream: its own call, or the identical call it joined (0 for a
   * hit). Ask once the reply was sent: a live stream's is known at its end. Its total time minus this
   * is what the gateway itself took.
   */
  upstreamSeconds(): number
  /** What the call took from its limits (undefined without limits), for the rate-limit headers. */
  readonly charge: Charge | undefined
  /** The whole answer, when there is one at hand (always for non-streaming calls). */
  readonly completion: Completion | undefined
  /** USD the upstream call cost, for a completed MISS/BYPASS; USD saved, for a HIT/STALE. */
  readonly costUsd: number | undefined
  readonly savedUsd: number | undefined
  /**
   * The answer as the `data:` payloads of a text/event-stream (chunk JSON texts, `[DONE]` last), live
   * or replayed, with the usage chunk only if the request asked for it. Throws an `UpstreamError`
   * (`E_UPSTREAM_INCOMPLETE`, `E_UPSTREAM_TIMEOUT`, ...) if a live stream breaks. Read it once;
   * stopping early (`return()`) tells the producer this caller is gone.
   */
  events(): AsyncIterable<string>
  /**
   * The whole answer with its cost or saving: at once for a completion at hand, at the end of a live
   * stream (rejecting as `events()` would throw). Reading it does not consume `events()`.
   */
  readonly result: Promise<CallResult>
  /**
   * The caller will not read `events()` (its client left before the answer could be sent): a live
   * stream then goes on only if the cache can still take its answer, like one whose readers all left.
   */
  abandon(): void
}
