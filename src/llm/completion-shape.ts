export type CompletionKind = 'chat' | 'text' | 'embeddings'

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)

/**
 * Why `value` is not a reply of this kind, or undefined when it is one: a 2xx body is cached and
 * replayed only if it has the shape every client (and the replay) relies on. An HTML page, `{}`,
 * `null` or an `{"error":...}` sent with status 200 is not a completion.
 */
export function completionProblem(kind: CompletionKind, value: unknown): string | undefined {
  if (!isObject(value)) return `the reply is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not a JSON object`
  if ('error' in value && value.error) return 'the reply is an error object'
  if (kind === 'embeddings') {
    if (!Array.isArray(value.data)) return 'the reply has no `data` array'
    for (const item of value.data) {
      if (!isObject(item) || !(Array.isArray(item.embedding) || typeof item.embedding === 'string')) return 'an item of `data` has no embedding'
    }
    return undefined
  }
  if (!Array.isArray(value.choices) || value.choices.length === 0) return 'the reply has no `choices`'
  for (const choice of value.choices) {
    if (!isObject(choice)) return 'a choice is not an object'
    if (kind === 'text' && typeof choice.text !== 'string') return 'a choice has no `text`'
    if (kind === 'chat') {
      if (!isObject(choice.message)) return 'a choice has no `message`'
      const content = choice.message.content
      if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) return 'a message has a `content` that is neither text nor null'
    }
  }
  return undefined
}
