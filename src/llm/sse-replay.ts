import type { Completion } from './stream-assembler.js'

/** Content is replayed in pieces of this many characters: a client rendering tokens sees a stream, not one blob. */
const PIECE = 256

const event = (payload: unknown) => `data: ${JSON.stringify(payload)}\n\n`

/**
 * A cached reply as a valid text/event-stream, shaped like the provider's own: per choice a role chunk,
 * content (and reasoning, refusal, tool-call) chunks and a finish chunk; then a usage chunk when the
 * request asked for one (`stream_options.include_usage`); then `[DONE]`.
 */
export function* replayAsSse(completion: Completion, kind: 'chat' | 'text', includeUsage: boolean): Generator<string> {
  const head = {
    id: completion.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: completion.created,
    model: completion.model,
    ...(completion.system_fingerprint !== undefined ? { system_fingerprint: completion.system_fingerprint } : {}),
  }
  const usageField = includeUsage ? { usage: null } : {}
  for (const choice of completion.choices) {
    const index = choice.index ?? 0
    const chunk = (body: Record<string, unknown>, finish: unknown = null) => event({ ...head, choices: [{ index, ...body, logprobs: null, finish_reason: finish }], ...usageField })
    if (kind === 'text') {
      for (const piece of pieces(String(choice.text ?? ''))) yield chunk({ text: piece })
      yield chunk({ text: '' }, choice.finish_reason)
      continue
    }
    const message = (choice.message as Record<string, unknown> | undefined) ?? {}
    yield chunk({ delta: { role: message.role ?? 'assistant', content: message.content === null ? null : '' } })
    for (const piece of pieces(message.reasoning_content)) yield chunk({ delta: { reasoning_content: piece } })
    for (const piece of pieces(message.content)) yield chunk({ delta: { content: piece } })
    for (const piece of pieces(message.refusal)) yield chunk({ delta: { refusal: piece } })
    const calls = (message.tool_calls as Array<Record<string, unknown>> | undefined) ?? []
    for (const [i, call] of calls.entries()) {
      const fn = (call.function as Record<string, unknown> | undefined) ?? {}
      yield chunk({ delta: { tool_calls: [{ index: i, id: call.id, type: call.type ?? 'function', function: { name: fn.name, arguments: fn.arguments } }] } })
    }
    yield chunk({ delta: {} }, choice.finish_reason)
  }
  if (includeUsage) yield event({ ...head, choices: [], usage: completion.usage ?? null })
  yield 'data: [DONE]\n\n'
}

function* pieces(text: unknown): Generator<string> {
  if (typeof text !== 'string' || text === '') return
  for (let at = 0; at < text.length; at += PIECE) yield text.slice(at, at + PIECE)
}
