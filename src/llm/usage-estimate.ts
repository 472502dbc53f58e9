import type { Completion, Usage } from './stream-assembler.js'

/** Output tokens assumed for the up-front estimate when a request sets no max_tokens. */
export const DEFAULT_OUTPUT_ESTIMATE = 256
/**
 * Tokens an image costs: OpenAI's high-detail figure for a 512×512 tile plus base (85 + 170 × 4),
 * rounded up; 85 with `detail: low`. Counting its base64 as text would make one photo look like a
 * novel (a 1 MB image is about 330k "tokens" of text) and refuse requests the provider would take.
 */
const IMAGE_TOKENS = 765
const LOW_DETAIL_IMAGE_TOKENS = 85
/** Audio and file parts: a flat guess, their size in base64 says little about their token cost. */
const ATTACHMENT_TOKENS = 1_000
/** Per message: role and framing, as OpenAI's cookbook counts them. */
const MESSAGE_OVERHEAD_TOKENS = 4
/** The walk stops below this depth: what is deeper counts nothing (the gateway bounds depth before). */
const MAX_WALK_DEPTH = 32

const DATA_URL = /^data:[\w.+/-]+;base64,/

/** Characters of text in `value` (and tokens of attachments in it), walked to a bounded depth. */
function measure(value: unknown, depth: number, into: { chars: number; tokens: number }): void {
  if (typeof value === 'string') {
    if (DATA_URL.test(value)) into.tokens += IMAGE_TOKENS
    else into.chars += value.length
    return
  }
  if (typeof value === 'number') {
    into.tokens += 1
    return
  }
  if (value === null || typeof value !== 'object' || depth >= MAX_WALK_DEPTH) return
  if (Array.isArray(value)) {
    for (const item of value) measure(item, depth + 1, into)
    return
  }
  const part = value as Record<string, unknown>
  const type = part.type
  if (type === 'image_url' || type === 'input_image' || type === 'image') {
    const detail = (part.image_url as { detail?: unknown } | undefined)?.detail ?? part.detail
    into.tokens += detail === 'low' ? LOW_DETAIL_IMAGE_TOKENS : IMAGE_TOKENS
    return
  }
  if (type === 'input_audio' || type === 'file' || type === 'input_file' || type === 'audio') {
    into.tokens += ATTACHMENT_TOKENS
    return
  }
  for (const key of Object.keys(part)) measure(part[key], depth + 1, into)
}

/**
 * A rough prompt size: about four characters a token for the text the request carries (messages,
 * prompt or input, tools), a fixed cost per image and attachment, a few tokens per message.
 */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  const into = { chars: 0, tokens: 0 }
  const messages = body.messages
  if (Array.isArray(messages)) into.tokens += messages.length * MESSAGE_OVERHEAD_TOKENS
  measure(messages ?? body.prompt ?? body.input ?? '', 0, into)
  if (body.tools !== undefined) measure(body.tools, 0, into)
  if (body.functions !== undefined) measure(body.functions, 0, into)
  return into.tokens + Math.ceil(into.chars / 4)
}

/** The most output a request may cost: `max_completion_tokens` or `max_tokens` (else 256), times `n`. */
export function maxOutputTokens(body: Record<string, unknown>): number {
  const max = body.max_completion_tokens ?? body.max_tokens
  const n = typeof body.n === 'number' && body.n > 0 ? body.n : 1
  return (typeof max === 'number' && max > 0 ? max : DEFAULT_OUTPUT_ESTIMATE) * n
}

/** Output tokens of a reply by its text (about four characters a token), for replies that carry no usage. */
export function estimateOutputTokens(completion: Completion): number {
  const into = { chars: 0, tokens: 0 }
  const choices = completion.choices
  if (Array.isArray(choices)) measure(choices.map((c: Record<string, unknown>) => c.message ?? c.text), 0, into)
  return into.tokens + Math.ceil(into.chars / 4)
}

/** Usage from its parts, in the API's shape. */
export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
}
