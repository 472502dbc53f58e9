import type { Completion } from './stream-assembler.js'

/** Content is replayed in pieces of this many characters: a client rendering tokens sees a stream, not one blob. */
const PIECE = 256
/** Message fields replayed in pieces, in this order; every other field goes whole in the first chunk. */
const PIECED = ['reasoning_content', 'reasoning', 'content', 'refusal'] as const
const TOP_LEVEL_SKIPPED = new Set(['id', 'object', 'created', 'model', 'choices', 'usage'])

type Json = Record<string, unknown>

/**
 * A cached reply as the `data:` payloads of a text/event-stream, shaped like the provider's own: per
 * choice a role chunk (carrying the message's whole-valued fields: audio, annotations, ...), content
 * (and reasoning, refusal) in pieces, tool calls, a legacy function_call, then a finish chunk with the
 * choice's logprobs and other fields; then a usage chunk when the request asked for one
 * (`stream_options.include_usage`); then `[DONE]`. {@link StreamAssembler} turns these payloads back
 * into the same reply.
 */
export function* replayPayloads(completion: Completion, kind: 'chat' | 'text', includeUsage: boolean): Generator<string> {
  const head: Json = { id: completion.id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: completion.created, model: completion.model }
  for (const key of Object.keys(completion)) if (!TOP_LEVEL_SKIPPED.has(key)) head[key] = completion[key]
  const usageField = includeUsage ? { usage: null } : {}
  const choices = Array.isArray(completion.choices) ? (completion.choices as Json[]) : []
  for (const choice of choices) {
    const index = typeof choice.index === 'number' ? choice.index : 0
    const { index: _index, message: rawMessage, text, logprobs, finish_reason: finish, ...fields } = choice
    const chunk = (body: Json, last = false) =>
      JSON.stringify({ ...head, choices: [{ index, ...body, ...(last ? { logprobs: logprobs ?? null, ...fields } : { logprobs: null }), finish_reason: last ? (finish ?? null) : null }], ...usageField })
    if (kind === 'text') {
      for (const piece of pieces(text)) yield chunk({ text: piece })
      yield chunk({ text: '' }, true)
      continue
    }
    const message = rawMessage && typeof rawMessage === 'object' ? (rawMessage as Json) : {}
    const { role, tool_calls: calls, function_call: functionCall, ...rest } = message
    const first: Json = { role: role ?? 'assistant', content: message.content === null || message.content === undefined ? null : '' }
    for (const key of Object.keys(rest)) if (!(PIECED as readonly string[]).includes(key)) first[key] = rest[key]
    for (const key of PIECED) if (key !== 'content' && rest[key] === null) first[key] = null
    yield chunk({ delta: first })
    for (const key of PIECED) for (const piece of pieces(rest[key])) yield chunk({ delta: { [key]: piece } })
    if (Array.isArray(calls)) for (const [i, call] of calls.entries()) yield chunk({ delta: { tool_calls: [{ index: i, ...(call as Json) }] } })
    if (functionCall && typeof functionCall === 'object') yield chunk({ delta: { function_call: functionCall } })
    yield chunk({ delta: {} }, true)
  }
  if (includeUsage) yield JSON.stringify({ ...head, choices: [], usage: completion.usage ?? null })
  yield '[DONE]'
}

function* pieces(text: unknown): Generator<string> {
  if (typeof text !== 'string' || text === '') return
  for (let at = 0; at < text.length; at += PIECE) yield text.slice(at, at + PIECE)
}

/**
 * A stream payload as a client that did not ask for usage (`stream_options.include_usage`) would have
 * had it: the final usage-only chunk dropped (undefined), the `usage` field of other chunks removed.
 */
export function withoutUsage(payload: string): string | undefined {
  if (payload === '[DONE]' || !payload.includes('"usage"')) return payload
  let chunk: Record<string, unknown>
  try {
    chunk = JSON.parse(payload) as Record<string, unknown>
  } catch {
    return payload
  }
  if (Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage) return undefined
  delete chunk.usage
  return JSON.stringify(chunk)
}
