import { DEFAULTS } from '../../core/defaults.js'
import { CorruptEntryError } from '../../core/errors.js'
import { type CallCharge, chargeCall } from './call-limits.js'
import { annotated, leaveOnAbort, leftBeforeItsTurn, loaderFailure, NotShared, planCall } from './call-plan.js'
import { finishedCleanly, type GenerateResult, type ModelCall, totalTokens } from './model-types.js'
import type { ParsedMiddlewareOptions } from './options.js'
import { restoreSnapshot, type Snapshot, takeSnapshot } from './snapshot.js'

/**
 * `wrapGenerate`: the cached answer, or the model's (cached for the next identical call). Identical
 * calls in flight at once make one model call (across instances too, with a shared store).
 */
export async function cachedGenerate(options: ParsedMiddlewareOptions, call: ModelCall, doGenerate: () => PromiseLike<GenerateResult>): Promise<GenerateResult> {
  const charge = options.limits && (await chargeCall(options.limits, call))
  const plan = planCall(options, call)
  if (!plan) return annotated(await generateCharged(doGenerate, call, charge), 'bypass')
  for (;;) {
    let ran = false
    let own: GenerateResult | undefined
    try {
      const loading = plan.cache.getOrSetEntry<Snapshot>(
        plan.key,
        async (context) => {
          ran = true
          const left = leftBeforeItsTurn(call)
          if (left) throw left
          own = await generateCharged(doGenerate, call, charge)
          const snapshot = takeSnapshot(storedForm(own), DEFAULTS.aiSdk.maxValueDepth)
          if (!snapshot) throw new NotShared(undefined)
          // An answer that ended in an error is shared with the calls waiting for it, never kept.
          if (!finishedCleanly(own.finishReason)) context.skip()
          return snapshot
        },
        plan.options,
      )
      const entry = await leaveOnAbort(loading, call, charge, () => !ran)
      if (own && entry.status === 'miss') return annotated(own, 'miss')
      // A hit, a stale answer (whose refresh, if this call started it, settles on top) or another call's answer.
      charge?.refund()
      return annotated(restoreResult(entry.value, plan.key), entry.status)
    } catch (err) {
      if (!(err instanceof NotShared)) throw err
      if (!ran) continue
      if (own) return annotated(own, 'miss')
      throw err.cause
    }
  }
}

async function generateCharged(doGenerate: () => PromiseLike<GenerateResult>, call: ModelCall, charge: CallCharge | undefined): Promise<GenerateResult> {
  let result: GenerateResult
  try {
    result = await doGenerate()
  } catch (err) {
    charge?.settle(undefined)
    throw loaderFailure(err, call)
  }
  charge?.settle(totalTokens(result.usage))
  return result
}

/**
 * What is kept of a result: everything but the request (it holds the whole prompt again, images
 * included) and the response's headers and body (another call's request ids and rate-limit headers
 * would mislead; the parsed answer is all the AI SDK needs).
 */
function storedForm(result: GenerateResult): Omit<GenerateResult, 'request'> {
  const { request: _request, response, ...rest } = result
  if (!response) return rest
  const { headers: _headers, body: _body, ...metadata } = response
  return { ...rest, response: metadata }
}

function restoreResult(snapshot: Snapshot, key: string): GenerateResult {
  const result = restoreSnapshot(snapshot, key) as GenerateResult
  if (result === null || typeof result !== 'object' || !Array.isArray(result.content)) throw new CorruptEntryError(key)
  return result
}
