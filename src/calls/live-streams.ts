import { DEFAULTS } from '../core/defaults.js'
import type { Completion } from '../llm/stream-assembler.js'

/** A promise with its settle functions (Promise.withResolvers is Node ≥ 22). */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void
  let reject!: (error: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  // Nobody may be waiting on it: a failure is reported to readers, never as an unhandled rejection.
  promise.catch(() => {})
  return { promise, resolve, reject }
}

/**
 * One upstream call in flight, as the callers interested in it see it: its stream's `data:` payloads
 * so far (a reader that joins late gets them from the first one), then the end, or the failure. Every
 * reader has its own position: a slow one holds nobody up.
 */
export class LiveStream {
  readonly #chunks: string[] = []
  readonly #started = deferred<void>()
  readonly #result = deferred<Completion>()
  #ended = false
  #failure: Error | undefined
  #wake: ReturnType<typeof deferred<void>> | undefined
  /** Characters each reader has taken so far. */
  readonly #readers = new Set<{ taken: number }>()
  /** Characters pushed so far. */
  #pushed = 0
  #room: ReturnType<typeof deferred<void>> | undefined

  /** @param readAhead How far (in characters) the stream may run ahead of its fastest reader before {@link room} makes the writer wait. */
  constructor(private readonly readAhead: number = DEFAULTS.gateway.streamReadAheadBytes) {}

  /** Called when the last reader stops early while the stream still runs: nobody reads it any more. */
  onIdle: (() => void) | undefined

  /** Resolves when the upstream started to stream (rejects if it failed first). */
  get started(): Promise<void> {
    return this.#started.promise
  }

  /** The whole answer: the assembled stream, or the JSON reply of an upstream that did not stream. */
  get result(): Promise<Completion> {
    return this.#result.promise
  }

  start(): void {
    this.#started.resolve()
  }

  push(data: string): void {
    this.#chunks.push(data)
    this.#pushed += data.length
    this.#notify()
  }

  /**
   * Undefined while some reader keeps up (or nobody reads: a stream the cache still wants runs at the
   * upstream's pace); else a promise that resolves when one catches up or leaves. The writer awaits
   * it before reading on, so a client that stops reading stops the upstream instead of being buffered for.
   */
  room(): Promise<void> | undefined {
    if (this.#readers.size === 0) return undefined
    let fastest = 0
    for (const reader of this.#readers) fastest = Math.max(fastest, reader.taken)
    if (this.#pushed - fastest <= this.readAhead) return undefined
    this.#room ??= deferred<void>()
    return this.#room.promise
  }

  /** The call succeeded; `completion` is its whole answer. */
  end(completion: Completion): void {
    this.#ended = true
    this.#result.resolve(completion)
    this.#notify()
  }

  fail(error: Error): void {
    if (this.#ended || this.#failure) return
    this.#failure = error
    this.#started.reject(error)
    this.#result.reject(error)
    this.#notify()
  }

  /** Every payload from the first, live until the end; throws the failure if the stream breaks. */
  async *read(): AsyncGenerator<string> {
    const reader = { taken: 0 }
    this.#readers.add(reader)
    let at = 0
    try {
      for (;;) {
        while (at < this.#chunks.length) {
          const payload = this.#chunks[at++] as string
          yield payload
          // The consumer asked for more: it took this one.
          reader.taken += payload.length
          if (this.#room && this.#pushed - reader.taken <= this.readAhead) this.#freeRoom()
        }
        if (this.#failure) throw this.#failure
        if (this.#ended) return
        this.#wake ??= deferred<void>()
        await this.#wake.promise
      }
    } finally {
      this.#readers.delete(reader)
      this.#freeRoom()
      if (this.#readers.size === 0 && !this.#ended && !this.#failure) this.onIdle?.()
    }
  }

  #freeRoom(): void {
    const room = this.#room
    this.#room = undefined
    room?.resolve()
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.resolve()
  }
}

/**
 * The calls in flight in this process that another caller may join, by cache namespace and key: the
 * namespace carries the tenant (and user or key, with a narrower cache scope), so a caller only ever
 * joins a call whose answer it could have read from the cache.
 */
export class LiveStreams {
  readonly #live = new Map<string, LiveStream>()

  get(namespace: string, key: string): LiveStream | undefined {
    return this.#live.get(`${namespace}\n${key}`)
  }

  /** Makes `stream` joinable until it ends or fails. */
  register(namespace: string, key: string, stream: LiveStream): void {
    const id = `${namespace}\n${key}`
    this.#live.set(id, stream)
    const remove = () => {
      if (this.#live.get(id) === stream) this.#live.delete(id)
    }
    stream.result.then(remove, remove)
  }

  get size(): number {
    return this.#live.size
  }
}
