import { tooDeep } from '../core/json-size.js'
import { badRequest } from './openai-errors.js'

export type LlmKind = 'chat' | 'text' | 'embeddings'

function check(ok: boolean, message: string, param: string): void {
  if (!ok) throw badRequest(message, param)
}

const optionalNumber = (body: Record<string, unknown>, name: string, min: number, max: number, integer = false) => {
  const value = body[name]
  if (value === undefined || value === null) return
  check(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value)), `${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, name)
}

/**
 * Checks what the gateway itself relies on (and what a provider would reject anyway), so bad input
 * gets a precise 400 here instead of a cache key, a limiter charge and an upstream round trip.
 */
export function validateBody(kind: LlmKind, body: unknown, maxDepth: number): Record<string, unknown> {
  check(body !== null && typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body), 'The request body must be a JSON object sent as application/json.', 'body')
  const b = body as Record<string, unknown>
  const deep = tooDeep(b, maxDepth)
  if (deep !== undefined) throw badRequest(`The request body nests deeper than ${maxDepth} levels (under ${deep}).`, deep)
  check(typeof b.model === 'string' && b.model.length > 0 && b.model.length <= 256, 'model must be a non-empty string', 'model')
  check(b.stream === undefined || b.stream === null || typeof b.stream === 'boolean', 'stream must be a boolean', 'stream')
  check(b.user === undefined || b.user === null || typeof b.user === 'string', 'user must be a string', 'user')
  if (kind === 'chat') {
    check(Array.isArray(b.messages) && b.messages.length > 0, 'messages must be a non-empty array', 'messages')
    for (const [i, message] of (b.messages as unknown[]).entries()) {
      check(message !== null && typeof message === 'object' && typeof (message as Record<string, unknown>).role === 'string', `messages[${i}] must be an object with a string role`, `messages[${i}]`)
    }
  }
  if (kind === 'text') check(typeof b.prompt === 'string' || Array.isArray(b.prompt), 'prompt must be a string or an array', 'prompt')
  if (kind === 'embeddings') {
    check(typeof b.input === 'string' || Array.isArray(b.input), 'input must be a string or an array', 'input')
    check(b.stream !== true, 'embeddings cannot be streamed', 'stream')
  }
  optionalNumber(b, 'temperature', 0, 2)
  optionalNumber(b, 'top_p', 0, 1)
  optionalNumber(b, 'n', 1, 128, true)
  optionalNumber(b, 'max_tokens', 1, 10_000_000, true)
  optionalNumber(b, 'max_completion_tokens', 1, 10_000_000, true)
  check(b.stream_options === undefined || b.stream_options === null || typeof b.stream_options === 'object', 'stream_options must be an object', 'stream_options')
  return b
}

/** Whether the client asked for the final usage chunk of a stream. */
export function wantsUsage(body: Record<string, unknown>): boolean {
  return (body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true
}
