import { UPSTREAM_FAILURES } from '../../calls/failure-statuses.js'
import type { CallOutcome } from '../../calls/types.js'
import { UpstreamError } from '../../core/errors.js'

/** Response headers that tell the caller how a call was answered; read them with `tollgateInfo`. */
export const INFO_HEADERS = {
  cache: 'x-tollgate-cache',
  cacheKey: 'x-tollgate-cache-key',
  age: 'x-tollgate-cache-age',
  cost: 'x-tollgate-cost-usd',
  saved: 'x-tollgate-saved-usd',
} as const

const encoder = new TextEncoder()

/** What every answer says about itself: its cache status and key, its age, and its cost or saving when known now. */
function infoHeaders(outcome: CallOutcome): Headers {
  const headers = new Headers({ [INFO_HEADERS.cache]: outcome.cache, [INFO_HEADERS.cacheKey]: outcome.cacheKey, [INFO_HEADERS.age]: String(outcome.ageSeconds) })
  if (outcome.costUsd !== undefined) headers.set(INFO_HEADERS.cost, String(outcome.costUsd))
  if (outcome.savedUsd !== undefined) headers.set(INFO_HEADERS.saved, String(outcome.savedUsd))
  return headers
}

/** A whole completion, as the provider would have sent it. */
export function jsonResponse(outcome: CallOutcome): Response {
  const headers = infoHeaders(outcome)
  headers.set('content-type', 'application/json')
  return new Response(JSON.stringify(outcome.completion), { status: 200, headers })
}

/**
 * The call's events as a text/event-stream, pulled as the SDK's `Stream` reads: a reader that stops
 * stops the producer's stream, and cancelling (`break`) tells the producer this caller is gone. The
 * request's `signal` (the SDK's abort, `stream.controller.abort()`, its timeout) fails the body at
 * once, as a fetch body fails, which the SDK's `Stream` takes as the end. A stream that breaks ends
 * with an OpenAI-shaped `error` event, which the SDK raises as an `APIError`, as from the provider.
 */
export function sseResponse(outcome: CallOutcome, signal?: AbortSignal): Response {
  const events = outcome.events()[Symbol.asyncIterator]()
  const stop = () => void events.return?.(undefined).catch(() => {})
  let unlisten = () => {}
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (!signal) return
      const abort = () => {
        controller.error(signal.reason)
        stop()
      }
      if (signal.aborted) return abort()
      signal.addEventListener('abort', abort, { once: true })
      unlisten = () => signal.removeEventListener('abort', abort)
    },
    async pull(controller) {
      let frame: string | undefined
      let last = false
      try {
        const next = await events.next()
        frame = next.done ? undefined : `data: ${next.value}\n\n`
        last = next.done === true
      } catch (err) {
        frame = `data: ${JSON.stringify(errorBody(err))}\n\n`
        last = true
      }
      // Aborted while it waited: the body has failed already.
      if (signal?.aborted) return
      if (frame !== undefined) controller.enqueue(encoder.encode(frame))
      if (!last) return
      unlisten()
      controller.close()
    },
    cancel() {
      unlisten()
      stop()
    },
  })
  const headers = infoHeaders(outcome)
  headers.set('content-type', 'text/event-stream')
  headers.set('cache-control', 'no-cache')
  return new Response(body, { status: 200, headers })
}

/** An upstream's error status as it came, for the SDK to raise (and retry) as it would without tollgate. */
export function upstreamStatusResponse(error: UpstreamError): Response {
  const headers = new Headers(error.headers)
  headers.set('content-type', error.contentType ?? 'application/json')
  return new Response(new Uint8Array(error.body ?? Buffer.alloc(0)), { status: error.status ?? 502, headers })
}

/**
 * An error tollgate answers for itself, OpenAI-shaped. `x-should-retry: false`: it is final (a
 * refused limit, a reply that was garbage); the SDK's retries would only repeat it.
 */
export function errorResponse(status: number, body: ReturnType<typeof errorBody>, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...headers, 'content-type': 'application/json', 'x-should-retry': 'false' } })
}

/** The OpenAI-shaped body of an error the producer threw. */
export function errorBody(err: unknown, type = 'api_error'): { error: { message: string; type: string; param: string | null; code: string | null } } {
  const code = (err as { code?: string })?.code
  const known = code ? UPSTREAM_FAILURES.get(code) : undefined
  return { error: { message: (err as Error)?.message ?? String(err), type, param: null, code: known?.code ?? code ?? null } }
}

/** The status tollgate answers an upstream failure with (502 unless it names its own). */
export function failureStatus(err: UpstreamError): number {
  return UPSTREAM_FAILURES.get(err.code)?.status ?? 502
}
