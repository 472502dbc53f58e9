/** A chat completion or legacy completion, as the non-streaming API returns it; what the cache stores. */
export type Completion = Record<string, unknown> & { choices: Array<Record<string, unknown>>; usage?: Usage | null }

export interface Usage {
  prompt_tokens: number
  completion_tokens?: number
  total_tokens: number
  [key: string]: unknown
}

interface ToolCallParts {
  id?: string
  type?: string
  name: string
  arguments: string
}

interface ChoiceParts {
  role?: string
  content: string
  hasContent: boolean
  reasoning: string
  refusal: string
  text: string
  toolCalls: Map<number, ToolCallParts>
  finishReason: string | null
}

/**
 * Rebuilds the non-streaming reply from a stream's chunks (chat: `delta` content, reasoning,
 * refusal and tool-call fragments; legacy completions: `text`), so one cache entry serves both kinds
 * of request. Complete only when every choice has a `finish_reason`: a stream cut short is never cached.
 */
export class StreamAssembler {
  readonly #choices = new Map<number, ChoiceParts>()
  #head: Record<string, unknown> | undefined
  #usage: Usage | undefined
  #done = false

  constructor(private readonly kind: 'chat' | 'text') {}

  /** One `data:` payload of the stream. */
  add(data: string): void {
    if (data === '[DONE]') {
      this.#done = true
      return
    }
    let chunk: Record<string, unknown>
    try {
      chunk = JSON.parse(data) as Record<string, unknown>
    } catch {
      return
    }
    this.#head ??= chunk
    if (chunk.usage) this.#usage = chunk.usage as Usage
    for (const raw of (chunk.choices as Array<Record<string, unknown>> | undefined) ?? []) this.#addChoice(raw)
  }

  /** Every choice finished (the stream said why each one stopped). */
  get complete(): boolean {
    return this.#choices.size > 0 && [...this.#choices.values()].every((choice) => choice.finishReason !== null)
  }

  get usage(): Usage | undefined {
    return this.#usage
  }

  get sawDone(): boolean {
    return this.#done
  }

  /** The assembled reply in the non-streaming shape. */
  result(): Completion {
    const head = this.#head ?? {}
    const choices = [...this.#choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, parts]) => (this.kind === 'chat' ? chatChoice(index, parts) : { index, text: parts.text, logprobs: null, finish_reason: parts.finishReason }))
    return {
      id: head.id,
      object: this.kind === 'chat' ? 'chat.completion' : 'text_completion',
      created: head.created,
      model: head.model,
      ...(head.system_fingerprint !== undefined ? { system_fingerprint: head.system_fingerprint } : {}),
      choices,
      usage: this.#usage ?? null,
    }
  }

  #addChoice(raw: Record<string, unknown>): void {
    const index = typeof raw.index === 'number' ? raw.index : 0
    let parts = this.#choices.get(index)
    if (!parts) {
      parts = { content: '', hasContent: false, reasoning: '', refusal: '', text: '', toolCalls: new Map(), finishReason: null }
      this.#choices.set(index, parts)
    }
    if (typeof raw.finish_reason === 'string') parts.finishReason = raw.finish_reason
    if (typeof raw.text === 'string') parts.text += raw.text
    const delta = raw.delta as Record<string, unknown> | undefined
    if (!delta) return
    if (typeof delta.role === 'string') parts.role = delta.role
    if (typeof delta.content === 'string') {
      parts.content += delta.content
      parts.hasContent = true
    }
    if (typeof delta.reasoning_content === 'string') parts.reasoning += delta.reasoning_content
    if (typeof delta.refusal === 'string') parts.refusal += delta.refusal
    for (const call of (delta.tool_calls as Array<Record<string, unknown>> | undefined) ?? []) {
      const at = typeof call.index === 'number' ? call.index : 0
      const fn = (call.function as Record<string, unknown> | undefined) ?? {}
      const existing = parts.toolCalls.get(at) ?? { name: '', arguments: '' }
      if (typeof call.id === 'string') existing.id = call.id
      if (typeof call.type === 'string') existing.type = call.type
      if (typeof fn.name === 'string') existing.name += fn.name
      if (typeof fn.arguments === 'string') existing.arguments += fn.arguments
      parts.toolCalls.set(at, existing)
    }
  }
}

function chatChoice(index: number, parts: ChoiceParts): Record<string, unknown> {
  const message: Record<string, unknown> = { role: parts.role ?? 'assistant', content: parts.hasContent ? parts.content : null }
  if (parts.reasoning) message.reasoning_content = parts.reasoning
  if (parts.refusal) message.refusal = parts.refusal
  if (parts.toolCalls.size > 0) {
    message.tool_calls = [...parts.toolCalls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, call]) => ({ id: call.id, type: call.type ?? 'function', function: { name: call.name, arguments: call.arguments } }))
  }
  return { index, message, logprobs: null, finish_reason: parts.finishReason }
}
