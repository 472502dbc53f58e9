import type { LanguageModelMiddleware } from 'ai'
import { cachedGenerate } from './cached-generate.js'
import { cachedStream } from './cached-stream.js'
import type { CallParams, GenerateResult, ModelInfo, StreamResult } from './model-types.js'
import { parseMiddlewareOptions, type TollgateMiddlewareOptions } from './options.js'

/**
 * A language-model middleware for the AI SDK's `wrapLanguageModel` that caches `generateText` and
 * `streamText` answers in a tollgate cache (streams recorded as they pass and replayed on a hit),
 * makes identical calls in flight at once share one model call, and optionally charges each call to
 * rate limits (tokens settled against the usage the model reports). Every option is checked here:
 * a bad one throws `E_INVALID_OPTION` now, not on the first call.
 *
 * One object serves `ai@6` (specification v3) and `ai@7` (v4): neither reads a middleware's
 * `specificationVersion`, the parts the middleware reads have the same shape in both, and the
 * type it is given is the installed `ai`'s own `LanguageModelMiddleware`. It declares `'v3'`, the
 * version `ai@6` requires and `ai@7` accepts. Entries of the two versions never mix: the model's
 * specification version is part of the cache key.
 */
export function tollgateMiddleware(options: TollgateMiddlewareOptions): LanguageModelMiddleware {
  const parsed = parseMiddlewareOptions(options)
  const middleware = {
    specificationVersion: 'v3',
    wrapGenerate: ({ doGenerate, params, model }: { doGenerate: () => PromiseLike<GenerateResult>; params: CallParams; model: ModelInfo }) =>
      cachedGenerate(parsed, { params, model, type: 'generate' }, doGenerate),
    wrapStream: ({ doStream, params, model }: { doStream: () => PromiseLike<StreamResult>; params: CallParams; model: ModelInfo }) =>
      cachedStream(parsed, { params, model, type: 'stream' }, doStream),
  }
  return middleware as unknown as LanguageModelMiddleware
}
