import { canonicalDigest } from '../../llm/canonical.js'
import type { ModelCall } from './model-types.js'

/**
 * Call options that never change the answer: the caller's cancellation and the HTTP headers sent to
 * the provider (API keys, tracing ids). Every other option, including ones this list does not know
 * yet, is part of the key: an unknown option may well change the answer.
 */
const IGNORED = new Set(['abortSignal', 'headers'])

/**
 * `providerOptions.tollgate`: the application's word to this middleware (a tenant, an end user), which
 * no provider reads. Out of the key, so users of one namespace share answers.
 */
const OWN_OPTIONS = 'tollgate'

/**
 * Version of what is cached under a key; a change of it (or of the model's specification version,
 * whose results differ in shape) gives every call a new key instead of an entry it cannot read.
 */
const FORMAT = 1

/**
 * The default cache key of a model call: SHA-256 over the model's provider, id and specification
 * version, the kind of call (generate or stream: their cached forms differ) and the canonical form
 * of every call option but `abortSignal`, `headers` and `providerOptions.tollgate` (keys sorted at every depth, file bytes and
 * URLs by content, nesting bounded). Two identical calls get the same key; any option that changes
 * the answer (prompt, tools, temperature, maxOutputTokens, seed, responseFormat, stopSequences,
 * providerOptions, ...) gives another.
 */
export function callCacheKey(call: ModelCall): string {
  // Null prototype: an option named `__proto__` is an option like any other here.
  const relevant = Object.create(null) as Record<string, unknown>
  for (const [name, value] of Object.entries(call.params)) if (!IGNORED.has(name)) relevant[name] = value
  const providerOptions = call.params.providerOptions
  if (providerOptions !== null && typeof providerOptions === 'object' && Object.hasOwn(providerOptions, OWN_OPTIONS)) {
    const { [OWN_OPTIONS]: _own, ...others } = providerOptions
    // Nothing but tollgate's own: the same call as one without providerOptions.
    if (Object.keys(others).length > 0) relevant.providerOptions = others
    else delete relevant.providerOptions
  }
  const { model } = call
  const head = JSON.stringify(['ai-sdk', FORMAT, call.type, model.specificationVersion, model.provider, model.modelId])
  return `ai-sdk:${canonicalDigest(`${head}\n`, relevant)}`
}
