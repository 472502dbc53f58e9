import type { CacheResult } from '../../cache/types.js'
import { DEFAULTS } from '../../core/defaults.js'
import { CorruptEntryError } from '../../core/errors.js'
import { type CallCharge, chargeCall } from './call-limits.js'
import { annotated, leaveOnAbort, leftBeforeItsTurn, loaderFailure, NotShared, planCall } from './call-plan.js'
import { type ModelCall, type StreamPart, type StreamResult, totalTokens, type Usage } from './model-types.js'
import type { ParsedMiddlewareOptions } from './options.js'
import { restoreSnapshot, type Snapshot, takeSnapshot } from './snapshot.js'
import { StreamCancelledError, StreamRecorder, replayParts } from './stream-recorder.js'

type Answer = { live: StreamRecorder; result: StreamResult } | { entry: CacheResult<Snapshot> } | { error: unknown }

/**
 * `wrapStream`: a miss streams the model's parts to its caller as they come and caches the whole
 * list once the stream has finished cleanly; a hit replays the list. Identical calls arriving while
 * one streams wait for its end and replay it (they do not join it part by part).
 */
export async function cachedStream(options: ParsedMiddlewareOptions, call: ModelCall, doStream: () => PromiseLike<StreamResult>): Promise<StreamResult> {
  const charge = options.limits && (await chargeCall(options.limits, call))
  const plan = planCall(options, call)
  if (!plan) return bypass(doStream, call, charge)
  for (;;) {
    let ran = false
    let give!: (answer: Answer) => boolean
    const answered = new Promise<Answer>((resolve) => {
      let given = false
      give = (answer) => {
        if (given) return false
        given = true
        resolve(answer)
        return true
      }
    })
    const entry = plan.cache.getOrSetEntry<Snapshot>(
      plan.key,
      async (context) => {
        ran = true
        const left = leftBeforeItsTurn(call)
        if (left) throw left
        const result = await streamCharged(doStream, call, charge)
        const recorder = new StreamRecorder(result.stream, (part) => annotated(part, 'miss'))
        // Served a stale answer first, whose refresh this is: nobody reads the live side.
        if (!give({ live: recorder, result })) recorder.detach()
        const recording = await recorder.done.catch((err: unknown) => {
          charge?.settle(undefined)
          throw err instanceof StreamCancelledError ? new NotShared(err) : loaderFailure(err, call)
        })
        charge?.settle(totalTokens(finishUsage(recording.parts)))
        const snapshot = takeSnapshot(recording.parts, DEFAULTS.aiSdk.maxValueDepth)
        if (!snapshot) throw new NotShared(undefined)
        // A stream that failed is never kept; the calls waiting for it replay it (or, when its error
        // part cannot be copied, call the model themselves: see NotShared above).
        if (!recording.complete) context.skip()
        return snapshot
      },
      plan.options,
    )
    // After a live answer, the entry's outcome (or failure) is the live reader's to see, not this one's.
    entry.then(
      (value) => give({ entry: value }),
      (error: unknown) => give({ error }),
    )
    const first = await leaveOnAbort(answered, call, charge, () => !ran)
    if ('live' in first) return { ...first.result, stream: first.live.live }
    if ('error' in first) {
      if (!(first.error instanceof NotShared)) throw first.error
      if (!ran) continue
      throw first.error.cause
    }
    charge?.refund()
    const { status, value } = first.entry
    return { stream: replayParts(restoreParts(value, plan.key), (part) => annotated(part, status)) }
  }
}

/** The model's stream; when it cannot even start, the charge's estimate stands (the model may have been reached). */
async function streamCharged(doStream: () => PromiseLike<StreamResult>, call: ModelCall, charge: CallCharge | undefined): Promise<StreamResult> {
  try {
    return await doStream()
  } catch (err) {
    charge?.settle(undefined)
    throw loaderFailure(err, call)
  }
}

/** Not cached: the model's stream as it is, watched for its usage only when there are limits to settle. */
async function bypass(doStream: () => PromiseLike<StreamResult>, call: ModelCall, charge: CallCharge | undefined): Promise<StreamResult> {
  const result = await streamCharged(doStream, call, charge)
  const recorder = new StreamRecorder(result.stream, (part) => annotated(part, 'bypass'))
  recorder.done.then(
    (recording) => charge?.settle(totalTokens(finishUsage(recording.parts))),
    () => charge?.settle(undefined),
  )
  return { ...result, stream: recorder.live }
}

function finishUsage(parts: StreamPart[]): Usage | undefined {
  for (let i = parts.length - 1; i >= 0; i--) if (parts[i]?.type === 'finish') return parts[i]?.usage as Usage | undefined
  return undefined
}

function restoreParts(snapshot: Snapshot, key: string): StreamPart[] {
  const parts = restoreSnapshot(snapshot, key)
  if (!Array.isArray(parts) || !parts.every((part) => part !== null && typeof part === 'object' && typeof (part as StreamPart).type === 'string')) throw new CorruptEntryError(key)
  return parts as StreamPart[]
}
