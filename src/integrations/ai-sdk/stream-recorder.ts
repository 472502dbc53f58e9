import { finishedCleanly, type FinishReason, type StreamPart } from './model-types.js'

/** The parts of a stream that ended, and whether it may be cached. */
export interface Recording {
  parts: StreamPart[]
  /** A `finish` part came with a clean finish reason, and no `error` part came at all. */
  complete: boolean
}

/** The caller reading the live stream cancelled it. */
export class StreamCancelledError extends Error {
  constructor(readonly reason: unknown) {
    super('the stream was cancelled by its reader')
  }
}

/**
 * Passes a model's stream on to its caller part by part, as the caller reads it, and keeps every part
 * for the cache. `done` resolves when the stream ends and rejects when it fails or its reader cancels
 * it. Nothing is read ahead of the reader (a slow reader slows the model's stream, as it would
 * without the cache), unless `detach` says nobody reads: then the rest is read for the cache alone.
 */
export class StreamRecorder {
  readonly parts: StreamPart[] = []
  readonly live: ReadableStream<StreamPart>
  readonly done: Promise<Recording>
  readonly #reader: ReadableStreamDefaultReader<StreamPart>
  #settle!: { resolve: (recording: Recording) => void; reject: (error: unknown) => void }
  #ended = false

  constructor(source: ReadableStream<StreamPart>, annotateFinish: (part: StreamPart) => StreamPart) {
    this.#reader = source.getReader()
    this.done = new Promise<Recording>((resolve, reject) => {
      this.#settle = { resolve, reject }
    })
    // Whoever reads `done` later: a failure is also the live reader's, not an unhandled rejection.
    this.done.catch(() => {})
    this.live = new ReadableStream<StreamPart>({
      pull: async (controller) => {
        try {
          const part = await this.#next()
          if (part === undefined) controller.close()
          else controller.enqueue(part.type === 'finish' ? annotateFinish(part) : part)
        } catch (err) {
          controller.error(err)
        }
      },
      cancel: async (reason) => {
        this.#fail(new StreamCancelledError(reason))
        await this.#reader.cancel(reason)
      },
    })
  }

  /** Nobody will read `live` (the caller was served another answer): reads the rest for the cache. */
  detach(): void {
    void (async () => {
      try {
        while ((await this.#next()) !== undefined);
      } catch {
        // #next has failed `done` with it already.
      }
    })()
  }

  async #next(): Promise<StreamPart | undefined> {
    let result: Awaited<ReturnType<ReadableStreamDefaultReader<StreamPart>['read']>>
    try {
      result = await this.#reader.read()
    } catch (err) {
      this.#fail(err)
      throw err
    }
    if (result.done) {
      this.#end()
      return undefined
    }
    this.parts.push(result.value)
    return result.value
  }

  #end(): void {
    if (this.#ended) return
    this.#ended = true
    let finish: FinishReason | undefined
    let error = false
    for (const part of this.parts) {
      if (part.type === 'finish') finish = part.finishReason as FinishReason
      else if (part.type === 'error') error = true
    }
    this.#settle.resolve({ parts: this.parts, complete: !error && finishedCleanly(finish) })
  }

  #fail(error: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#settle.reject(error)
  }
}

/** A stream of cached parts, as the model would have sent them. */
export function replayParts(parts: StreamPart[], annotateFinish: (part: StreamPart) => StreamPart): ReadableStream<StreamPart> {
  return new ReadableStream<StreamPart>({
    start(controller) {
      for (const part of parts) controller.enqueue(part.type === 'finish' ? annotateFinish(part) : part)
      controller.close()
    },
  })
}
