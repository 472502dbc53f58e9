import { createHash } from 'node:crypto'
import { cacheDirectives, samplesMany } from '../../calls/cache-controls.js'
import { CallLimits } from '../../calls/limits.js'
import { refusal } from '../../calls/limit-replies.js'
import { CallProducer } from '../../calls/producer.js'
import type { CachePolicy, CallKind, CallOutcome, CallRequest } from '../../calls/types.js'
import type { CostLedger } from '../../calls/cost-ledger.js'
import type { Charge } from '../../calls/limits.js'
import { InvalidOptionError, RateLimitedError, UpstreamError } from '../../core/errors.js'
import { tooDeep } from '../../core/json-size.js'
import { Pricing } from '../../llm/pricing.js'
import { FetchUpstream } from './fetch-upstream.js'
import { type ParsedOptions, parseOpenAIOptions, type TollgateOpenAIOptions } from './options.js'
import { errorBody, errorResponse, failureStatus, jsonResponse, sseResponse, upstreamStatusResponse } from './synthetic-response.js'

export type Fetch = typeof globalThis.fetch

/** A `fetch` for `new OpenAI({ fetch })` that answers LLM calls through tollgate. */
export interface TollgateFetch extends Fetch {
  /** Spend and savings of the calls made through it, per tenant and model. */
  readonly ledger: CostLedger
  /** Resolves once every call's charge was settled with its real usage (settling runs after the reply). */
  settled(): Promise<void>
  /** Waits for the settlements, then stops its limiters (the stores are the caller's to close). */
  close(): Promise<void>
}

/** The calls answered through the producer; anything else goes to the provider untouched. */
const ROUTES: ReadonlyArray<readonly [string, CallKind]> = [
  ['/chat/completions', 'chat'],
  ['/completions', 'text'],
  ['/embeddings', 'embeddings'],
]

/** Headers that steer the cache per call (`{ headers }` in the SDK's request options); they never reach the provider. */
const CONTROL_HEADERS = ['x-tollgate-cache-ttl', 'x-tollgate-cache-tags']
const MAX_TAGS = 32
const MAX_TAG_LENGTH = 200

/**
 * A `fetch` that puts chat completions (streamed or not), completions and embeddings through
 * tollgate's producer — the gateway's: canonical cache keys, single-flight across processes, live
 * streams joined and replayed, limits, cost — and answers with a synthetic `Response` (JSON or SSE)
 * the SDK reads as the provider's. Every other call goes to `fetch` (default the global one) as it came.
 *
 * Per call, through the SDK's request options: `Cache-Control: no-cache` (don't read, do write),
 * `no-store` (neither), `max-age=N`; `x-tollgate-cache-ttl` (seconds), `x-tollgate-cache-tags`.
 */
export function tollgateFetch(options: TollgateOpenAIOptions & { fetch?: Fetch }): TollgateFetch {
  const { fetch: given, ...rest } = options ?? ({} as TollgateOpenAIOptions)
  if (given !== undefined && typeof given !== 'function') throw new InvalidOptionError('fetch', given, 'a fetch function')
  const inner = given ?? globalThis.fetch
  const parsed = parseOpenAIOptions(rest)
  const limits = limitsOf(parsed)
  const producer = new CallProducer({ cache: parsed.cache, pricing: new Pricing(parsed.prices ?? {}, parsed.unpricedModel), limits, ...(parsed.ledger ? { ledger: parsed.ledger } : {}) })
  const namespace = parsed.namespace ? `t/${parsed.tenant}/${parsed.namespace}` : `t/${parsed.tenant}`
  const caller = { tenant: parsed.tenant, key: 'sdk' }
  const bounds = { maxReplyBytes: parsed.maxReplyBytes, maxReplyValues: parsed.maxReplyValues, maxErrorBytes: parsed.maxErrorBytes, timeoutMs: parsed.timeout, deadlineMs: parsed.deadline }
  const byKey = rest.tenant === undefined

  const fetch = async (input: Parameters<Fetch>[0], init?: RequestInit): Promise<Response> => {
    const call = llmCall(input, init)
    if (!call) return inner(input, init)
    const { kind, url, base, body } = call
    const deep = tooDeep(body, parsed.maxJsonDepth)
    if (deep !== undefined) return errorResponse(400, { error: { message: `The request body nests deeper than ${parsed.maxJsonDepth} levels (under ${deep}); tollgate does not cache it (maxJsonDepth).`, type: 'invalid_request_error', param: deep, code: 'invalid_request' } })
    const headers = new Headers(init?.headers)
    const policy = policyOf(parsed, namespace, headers, body)
    if (policy instanceof Response) return policy
    policy.partition = partitionOf(base, headers, byKey)
    for (const name of CONTROL_HEADERS) headers.delete(name)
    const signal = init?.signal ?? undefined
    const request: CallRequest = {
      kind,
      body,
      route: { upstream: new FetchUpstream({ fetch: inner, url, init: init ?? {}, headers }, bounds), model: body.model as string },
      caller,
      user: typeof body.user === 'string' ? body.user : undefined,
      policy,
      signal,
    }
    let outcome: CallOutcome
    try {
      outcome = await untilAborted(producer.start(request), signal)
    } catch (err) {
      return failed(err, signal)
    }
    if (parsed.onCall) report(parsed.onCall, kind, body.model as string, outcome)
    return body.stream === true && kind !== 'embeddings' ? sseResponse(outcome, signal) : jsonResponse(outcome)
  }
  return Object.assign(fetch, { ledger: producer.ledger, settled: async () => limits?.settled(), close: async () => limits?.close() }) as TollgateFetch
}

/** The LLM call a request is, or undefined for anything to send on as it is (another route, a body that is not a JSON object naming a model). */
function llmCall(input: Parameters<Fetch>[0], init: RequestInit | undefined): { kind: CallKind; url: string; base: string; body: Record<string, unknown> } | undefined {
  if (typeof input !== 'string' && !(input instanceof URL)) return undefined
  if ((init?.method ?? 'GET').toUpperCase() !== 'POST' || typeof init?.body !== 'string') return undefined
  const url = String(input)
  const { origin, pathname } = new URL(url)
  const path = pathname.replace(/\/+$/, '')
  const route = ROUTES.find(([suffix]) => path.endsWith(suffix))
  if (!route) return undefined
  const [suffix, kind] = route
  let body: unknown
  try {
    body = JSON.parse(init.body)
  } catch {
    return undefined
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined
  const model = (body as Record<string, unknown>).model
  return typeof model === 'string' && model.length > 0 ? { kind, url, base: origin + path.slice(0, -suffix.length), body: body as Record<string, unknown> } : undefined
}

/**
 * Who inside the tenant's namespace shares an entry: callers of the same provider (its base URL: two
 * deployments may serve different models under one name), and, while no tenant was given, with the
 * same API key, so that an app passing its customers' keys never serves one customer another's answer.
 */
function partitionOf(base: string, headers: Headers, byKey: boolean): string {
  const hash = createHash('sha256').update(base)
  if (byKey) hash.update(`\n${headers.get('authorization') ?? ''}\n${headers.get('api-key') ?? ''}`)
  return `p.${hash.digest('hex').slice(0, 32)}`
}

/** The cache policy of one call: the wrapper's options, then the call's own controls (a bad one answers 400). */
function policyOf(options: ParsedOptions, namespace: string, headers: Headers, body: Record<string, unknown>): CachePolicy | Response {
  const directives = cacheDirectives(headers.get('cache-control') ?? undefined)
  const policy: CachePolicy = { read: true, write: true, ttlMs: options.ttl, namespace, tags: options.tags }
  if (directives.maxAgeMs !== undefined) policy.maxAgeMs = directives.maxAgeMs
  const ttl = headers.get('x-tollgate-cache-ttl')
  if (ttl !== null) {
    const maxSeconds = Math.floor(options.cache.maxTtlMs / 1000)
    if (!/^\d{1,9}$/.test(ttl.trim()) || Number(ttl) === 0 || Number(ttl) > maxSeconds) return badControl(`x-tollgate-cache-ttl must be a whole number of seconds from 1 to ${maxSeconds}`, 'x-tollgate-cache-ttl')
    policy.ttlMs = Number(ttl) * 1000
  }
  const tags = headers.get('x-tollgate-cache-tags')
  if (tags) {
    const own = tags.split(',').map((t) => t.trim()).filter(Boolean)
    if (own.length + options.tags.length > MAX_TAGS || own.some((t) => t.length > MAX_TAG_LENGTH)) return badControl(`x-tollgate-cache-tags takes at most ${MAX_TAGS} comma-separated tags of ${MAX_TAG_LENGTH} characters (the wrapper's own included)`, 'x-tollgate-cache-tags')
    policy.tags = [...options.tags, ...own]
  }
  if (directives.noStore) return { ...policy, read: false, write: false, bypass: 'no-store' }
  if (samplesMany(body)) return { ...policy, read: false, write: false, bypass: 'n > 1 with temperature != 0' }
  if (directives.noCache) policy.read = false
  return policy
}

function badControl(message: string, param: string): Response {
  return errorResponse(400, { error: { message, type: 'invalid_request_error', param, code: 'invalid_request' } })
}

function limitsOf(options: ParsedOptions): CallLimits | undefined {
  const spec = options.limits
  if (!spec) return undefined
  const { store, ...rules } = spec
  return new CallLimits(rules, [], store)
}

/**
 * The producer's answer, or the SDK's own abort: a call nobody waits for (the SDK's timeout, the
 * caller's signal) rejects at once with the signal's reason, which the SDK recognises as its own,
 * while the producer finishes what the cache still wants in the background.
 */
function untilAborted(promise: Promise<CallOutcome>, signal: AbortSignal | undefined): Promise<CallOutcome> {
  if (!signal) return promise
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(signal.reason)
  }
  return new Promise<CallOutcome>((resolve, reject) => {
    const abort = () => reject(signal.reason)
    signal.addEventListener('abort', abort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort)
        // Too late for its caller: a live stream is told nobody reads it.
        if (signal.aborted) value.abandon()
        else resolve(value)
      },
      (err) => {
        signal.removeEventListener('abort', abort)
        reject(err)
      },
    )
  })
}

/**
 * What the SDK is told when there is no answer: the provider's own error status as it came (the
 * SDK retries it as usual); a connection failure thrown as fetch would throw it (the SDK retries
 * it too); a refused limit, an unpriced model or a broken reply as a final OpenAI-shaped error.
 */
function failed(err: unknown, signal: AbortSignal | undefined): Response {
  if (signal?.aborted) throw signal.reason
  if (err instanceof RateLimitedError) {
    const { message, type, code, headers } = refusal(err.charge as Charge)
    return errorResponse(429, { error: { message, type, param: null, code } }, headers)
  }
  if ((err as { code?: string })?.code === 'E_MODEL_NOT_PRICED') return errorResponse(400, { error: { message: (err as Error).message, type: 'invalid_request_error', param: 'model', code: 'model_not_priced' } })
  if (err instanceof UpstreamError) {
    if (err.code === 'E_UPSTREAM_STATUS') return upstreamStatusResponse(err)
    if (err.code === 'E_UPSTREAM_UNREACHABLE') throw err.cause ?? err
    return errorResponse(failureStatus(err), errorBody(err))
  }
  // Named, so a store outage is told from a bug.
  const named = (err as { code?: string })?.code ? `${(err as { code: string }).code}: ${(err as Error).message}` : String(err)
  return errorResponse(500, errorBody(new Error(`tollgate failed to handle the call (${named})`)))
}

function report(onCall: NonNullable<ParsedOptions['onCall']>, kind: CallKind, model: string, outcome: CallOutcome): void {
  outcome.result.then(
    (result) => {
      try {
        onCall({ kind, model, cache: outcome.cache, cached: outcome.cache === 'HIT' || outcome.cache === 'STALE', cacheKey: outcome.cacheKey, costUsd: result.costUsd, savedUsd: result.savedUsd })
      } catch {
        // The caller's callback: its failure is not the call's.
      }
    },
    () => {},
  )
}
