import type { DemoRequest } from './workload.js'

/** How one request of the demo went, as its client saw it. */
export interface Sent {
  readonly id: number
  /** HTTP status; 0 when no reply came (connection refused or reset). */
  readonly status: number
  /** The gateway's `x-tollgate-cache` (none straight from the upstream). */
  readonly cache: string | undefined
  /** From sending the request to the last byte of its reply (the `[DONE]` of a stream). */
  readonly ms: number
  /** What went wrong, for a reply that is not a whole completion. */
  readonly error?: string
}

/**
 * Sends one request to `baseUrl` (the gateway's or the upstream's `/v1`) and reads its whole reply,
 * as an agent would before acting on it: the latency measured is the wait for the complete answer.
 * `signal` abandons it (the demo was interrupted): it then ends as a request without a reply.
 */
export async function send(baseUrl: string, apiKey: string, request: DemoRequest, signal: AbortSignal): Promise<Sent> {
  const started = performance.now()
  const done = (status: number, cache: string | undefined, error?: string): Sent => ({ id: request.id, status, cache, ms: performance.now() - started, ...(error ? { error } : {}) })
  let response: Response
  try {
    response = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify(request.body),
      signal,
    })
  } catch (err) {
    return done(0, undefined, `no reply: ${(err as Error).message}`)
  }
  const cache = response.headers.get('x-tollgate-cache') ?? undefined
  let text: string
  try {
    text = await response.text()
  } catch (err) {
    return done(response.status, cache, `reply cut short: ${(err as Error).message}`)
  }
  if (response.status !== 200) return done(response.status, cache, errorMessage(text))
  const whole = request.body.stream === true ? text.trimEnd().endsWith('data: [DONE]') : isCompletion(text)
  return done(response.status, cache, whole ? undefined : 'not a whole completion')
}

function isCompletion(text: string): boolean {
  try {
    return Array.isArray((JSON.parse(text) as { choices?: unknown }).choices)
  } catch {
    return false
  }
}

/** The message of an OpenAI-shaped error body, or the start of whatever came instead. */
function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message
    if (typeof message === 'string') return message
  } catch {}
  return text.slice(0, 200)
}
