/** A chat completion, legacy completion or embeddings reply, as the non-streaming API returns it; what the cache stores. */
export type Completion = Record<string, unknown> & { usage?: Usage | null }

export interface Usage {
  prompt_tokens: number
  completion_tokens?: number
  total_tokens: number
  [key: string]: unknown
}

type Json = Record<string, unknown>

/**
 * String fields a stream sends in pieces, to be joined. Every other string (role, ids, types, a
 * finish reason, a severity) is a whole value each time it appears: joining it would corrupt it.
 */
const JOINED = new Set(['content', 'reasoning_content', 'reasoning', 'refusal', 'text', 'arguments', 'name', 'data', 'transcript'])
/** Chunk fields that exist only in streams (OpenAI pads chunks with `obfuscation`); not part of a reply. */
const STREAM_ONLY = new Set(['obfuscation', 'choices', 'usage', 'object'])
/** Deeper than this a delta is taken whole instead of merged: merging is a walk over upstream input. */
const MAX_MERGE_DEPTH = 12

/**
 * Merges one stream delta into what was assembled so far: joined strings are appended, arrays are
 * appended (logprobs, annotations), objects are merged field by field (audio, function_call), and
 * other values replace. A field that only ever came as null stays, as null.
 */
function merge(target: Json, delta: Json, depth: number): void {
  for (const key of Object.keys(delta)) {
    // Upstream input: a `__proto__` key would be assigned as the prototype, not kept as a field.
    if (key === '__proto__') continue
    const next = delta[key]
    const prev = Object.hasOwn(target, key) ? target[key] : undefined
    if (next === null || next === undefined) {
      if (!Object.hasOwn(target, key)) target[key] = null
    } else if (typeof next === 'string') {
      target[key] = JOINED.has(key) && typeof prev === 'string' ? prev + next : next
    } else if (Array.isArray(next)) {
      // Appended in place (the array is the assembler's own copy): copying it per chunk made a stream
      // of 100k logprob chunks take a minute.
      if (Array.isArray(prev)) for (const item of next) prev.push(item)
      else target[key] = [...next]
    } else if (typeof next === 'object' && depth < MAX_MERGE_DEPTH) {
      const into = prev !== null && typeof prev === 'object' && !Array.isArray(prev) ? (prev as Json) : {}
      merge(into, next as Json, depth + 1)
      target[key] = into
    } else {
      target[key] = next
    }
  }
}

function describeError(error: unknown): string {
  const message = typeof error === 'string' ? error : (error as { message?: unknown }).message
  return typeof message === 'string' ? message.slice(0, 500) : 'an error event'
}

interface ChoiceParts {
  /** Chat: the message so far; legacy: unused. */
  message: Json
  /** Choice-level fields other than the delta (logprobs, content filter results, the legacy text). */
  fields: Json
  toolCalls: Map<number, Json>
  finishReason: string | null
}

/**
 * Rebuilds the non-streaming reply from a stream's chunks, so one cache entry serves both kinds of
 * request: chat deltas merge into the message (content, reasoning, refusal, tool calls by index, a
 * legacy function_call, audio, annotations, fields it does not know), choice-level logprobs are
 * appended, and top-level fields keep their latest value. Complete only when every choice has a
 * `finish_reason`: a stream cut short is never cached.
 */
export class StreamAssembler {
  readonly #choices = new Map<number, ChoiceParts>()
  readonly #head: Json = {}
  #usage: Usage | undefined
  #done = false
  #chunks = 0
  #error: string | undefined

  constructor(private readonly kind: 'chat' | 'text') {}

  /**
   * One `data:` payload of the stream. Returns false for a payload that is not a chunk (not an object
   * with `choices`, or a usage-only chunk): an `{"error":…}` event (see {@link error}), a keep-alive `{}`.
   */
  add(data: string): boolean {
    if (data === '[DONE]') {
      this.#done = true
      return true
    }
    let chunk: unknown
    try {
      chunk = JSON.parse(data)
    } catch {
      return false
    }
    if (chunk === null || typeof chunk !== 'object' || Array.isArray(chunk)) return false
    const object = chunk as Json
    if (object.error) this.#error = describeError(object.error)
    if (!Array.isArray(object.choices) && !(object.usage && typeof object.usage === 'object')) return false
    this.addChunk(object)
    return true
  }

  /** The message of an `{"error":…}` event the upstream sent mid-stream, if any. */
  get error(): string | undefined {
    return this.#error
  }

  /** One parsed chunk object. */
  addChunk(chunk: Json): void {
    this.#chunks++
    for (const key of Object.keys(chunk)) {
      if (STREAM_ONLY.has(key) || key === '__proto__') continue
      const value = chunk[key]
      if (value !== null && value !== undefined) this.#head[key] = value
      else if (!Object.hasOwn(this.#head, key)) this.#head[key] = null
    }
    if (chunk.usage && typeof chunk.usage === 'object') this.#usage = chunk.usage as Usage
    if (Array.isArray(chunk.choices)) for (const raw of chunk.choices) if (raw && typeof raw === 'object') this.#addChoice(raw as Json)
  }

  /** Every choice finished (the stream said why each one stopped). */
  get complete(): boolean {
    if (this.#choices.size === 0) return false
    for (const choice of this.#choices.values()) if (choice.finishReason === null) return false
    return true
  }

  get usage(): Usage | undefined {
    return this.#usage
  }

  get sawDone(): boolean {
    return this.#done
  }

  /** Chunk objects seen so far. */
  get chunks(): number {
    return this.#chunks
  }

  /** The assembled reply in the non-streaming shape. */
  result(): Completion {
    const { id, created, model, ...rest } = this.#head
    const choices = [...this.#choices.entries()].sort(([a], [b]) => a - b).map(([index, parts]) => this.#choice(index, parts))
    return { id, object: this.kind === 'chat' ? 'chat.completion' : 'text_completion', created, model, ...rest, choices, usage: this.#usage ?? null }
  }

  #addChoice(raw: Json): void {
    const index = typeof raw.index === 'number' ? raw.index : 0
    let parts = this.#choices.get(index)
    if (!parts) {
      parts = { message: {}, fields: {}, toolCalls: new Map(), finishReason: null }
      this.#choices.set(index, parts)
    }
    const { delta, index: _index, finish_reason: finish, ...fields } = raw
    if (typeof finish === 'string') parts.finishReason = finish
    merge(parts.fields, fields, 0)
    if (!delta || typeof delta !== 'object') return
    const { tool_calls: calls, ...rest } = delta as Json
    merge(parts.message, rest, 0)
    if (!Array.isArray(calls)) return
    for (const call of calls) {
      if (!call || typeof call !== 'object') continue
      const { index: at, ...pieces } = call as Json
      const position = typeof at === 'number' ? at : 0
      const existing = parts.toolCalls.get(position) ?? {}
      merge(existing, pieces, 0)
      parts.toolCalls.set(position, existing)
    }
  }

  #choice(index: number, parts: ChoiceParts): Json {
    if (this.kind === 'text') return { index, text: '', logprobs: null, ...parts.fields, finish_reason: parts.finishReason }
    const { role, content, ...other } = parts.message
    // Streams open with `content: ""` even when the model goes on to call a tool; the JSON reply says null.
    const calls = parts.toolCalls.size > 0 || (other.function_call !== undefined && other.function_call !== null)
    const message: Json = { role: role ?? 'assistant', content: typeof content === 'string' && (content !== '' || !calls) ? content : null, ...other }
    if (parts.toolCalls.size > 0) {
      message.tool_calls = [...parts.toolCalls.entries()].sort(([a], [b]) => a - b).map(([, call]) => ({ type: 'function', ...call }))
    }
    return { index, message, logprobs: null, ...parts.fields, finish_reason: parts.finishReason }
  }
}
