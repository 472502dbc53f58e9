/**
 * What the middleware reads of the AI SDK's language-model specification. Versions 3 (`ai@6`) and 4
 * (`ai@7`) differ in content types and parameters the middleware passes through untouched; the parts
 * it reads (the model's identity, the call options, usage, finish reason, stream part types) have
 * the same shape in both, so one implementation serves both and these types describe the overlap.
 * The package's types are not imported here: `ai` is an optional peer, and either major may be the
 * one installed.
 */

/** The model the middleware wraps: `wrapGenerate`/`wrapStream` receive it as `model`. */
export interface ModelInfo {
  readonly specificationVersion: string
  readonly provider: string
  readonly modelId: string
}

/** The options of one model call (`LanguageModelV3CallOptions` / `LanguageModelV4CallOptions`). */
export interface CallParams {
  prompt: unknown
  maxOutputTokens?: number
  tools?: unknown
  providerOptions?: Record<string, unknown>
  abortSignal?: AbortSignal
  headers?: Record<string, string | undefined>
  [option: string]: unknown
}

/** One model call as the options' callbacks (`namespace`, `tags`, `key`, `limits.key`) see it. */
export interface ModelCall {
  readonly params: CallParams
  readonly model: ModelInfo
  /** `'generate'` for `generateText` and the like, `'stream'` for `streamText`. */
  readonly type: 'generate' | 'stream'
}

export type ProviderMetadata = Record<string, unknown>

/** Both versions nest token counts (`{ total, ... }`); the flat numbers of version 2 are read too. */
export interface Usage {
  inputTokens?: number | { total?: number | undefined } | undefined
  outputTokens?: number | { total?: number | undefined } | undefined
}

/** Version 3 and 4: `{ unified, raw }`; version 2: the bare string. */
export type FinishReason = string | { unified?: string; raw?: string | undefined }

export interface GenerateResult {
  content: unknown[]
  finishReason: FinishReason
  usage: Usage
  providerMetadata?: ProviderMetadata
  request?: unknown
  response?: { id?: string; timestamp?: Date; modelId?: string; headers?: unknown; body?: unknown; [field: string]: unknown }
  [field: string]: unknown
}

export interface StreamPart {
  type: string
  [field: string]: unknown
}

export interface StreamResult {
  stream: ReadableStream<StreamPart>
  request?: unknown
  response?: unknown
}

/** Total tokens of a usage, or undefined when the provider reported none. */
export function totalTokens(usage: Usage | undefined): number | undefined {
  if (!usage) return undefined
  const count = (tokens: Usage['inputTokens']) => {
    const n = typeof tokens === 'number' ? tokens : tokens?.total
    return typeof n === 'number' && Number.isFinite(n) ? n : undefined
  }
  const input = count(usage.inputTokens)
  const output = count(usage.outputTokens)
  if (input === undefined && output === undefined) return undefined
  return Math.max(0, Math.round((input ?? 0) + (output ?? 0)))
}

/**
 * Whether an answer may be cached: the model said it finished, and not with an error or an
 * interrupted stream (version 4's `interrupted`: the output may be incomplete).
 */
export function finishedCleanly(reason: FinishReason | undefined): boolean {
  const unified = typeof reason === 'string' ? reason : reason?.unified
  return unified !== undefined && unified !== 'error' && unified !== 'interrupted'
}
