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

/** How a live stream is bounded: how far it runs ahead of its readers, how much of it is kept for callers joining late. */
export interface LiveStreamBounds {
  /** How far (in characters) the stream may run ahead of its fastest reader before {@link LiveStream.room} makes the writer wait. */
  readAhead: number
  /** Characters kept from the first payload on for callers joining late; past them the stream is no longer joinable. */
  joinable: number
}

/**
 * One upstream call in flight, as the callers interested in it see it: its stream's `data:` payloads
 * so far (a reader that joins late gets them from the first one), then the end, or the failure. Every
 * reader has its own position: a slow one holds nobody up. Payloads are kept for late joiners only
 * while the stream is joinable (its first `joinable` characters, and while someone still reads it);
 * after that only what a reader has not taken yet is kept.
 */
export class LiveStream {
  /** Payloads from index `#dropped` on; the ones before were taken by every reader once nobody could join. */
  readonly #chunks: string[] = []
  #dropped = 0
  readonly #started = deferred<void>()
  readonly #result = deferred<Completion>()
  #ended = false
  #failure: Error | undefined
  #wake: ReturnType<typeof deferred<void>> | undefined
  /** Each reader's next payload index, and the characters it has taken so far. */
  readonly #readers = new Set<{ at: number; taken: number }>()
  /** Characters pushed so far. */
  #pushed = 0
  #room: ReturnType<typeof deferred<void>> | undefined
  #joinable = true
  /** Whether anyone ever read: before the first reader (the caller that started it) nothing may be dropped. */
  #read = false
  readonly #bounds: LiveStreamBounds

  constructor(bounds: Partial<LiveStreamBounds> = {}) {
    this.#bounds = { readAhead: bounds.readAhead ?? DEFAULTS.gateway.streamReadAheadBytes, joinable: bounds.joinable ?? DEFAULTS.gateway.joinableStreamBytes }
  }

  /** Called when the last reader stops early while the stream still runs: nobody reads it any more. */
  onIdle: (() => void) | undefined
  /** Called once when the stream stops being joinable (too long to keep, or every reader gone). */
  onUnjoinable: (() => void) | undefined

  /** Resolves when the upstream started to stream (rejects if it failed first). */
  get started(): Promise<void> {
    return this.#started.promise
  }

  /** The whole answer: the assembled stream, or the JSON reply of an upstream that did not stream. */
  get result(): Promise<Completion> {
    return this.#result.promise
  }

  /** Callers reading the stream right now. */
  get readers(): number {
    return this.#readers.size
  }

  get joinable(): boolean {
    return this.#joinable
  }

  start(): void {
    this.#started.resolve()
  }

  push(data: string): void {
    this.#chunks.push(data)
    this.#pushed += data.length
    if (this.#joinable && this.#pushed > this.#bounds.joinable) this.#unjoinable()
    else if (!this.#joinable) this.#trim()
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
    if (this.#pushed - fastest <= this.#bounds.readAhead) return undefined
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
    if (this.#dropped > 0) throw new Error('LiveStream.read(): the first payloads are gone; the stream is no longer joinable')
    const reader = { at: 0, taken: 0 }
    this.#readers.add(reader)
    this.#read = true
    try {
      for (;;) {
        while (reader.at - this.#dropped < this.#chunks.length) {
          const payload = this.#chunks[reader.at - this.#dropped] as string
          reader.at++
          yield payload
          // The consumer asked for more: it took this one.
          reader.taken += payload.length
          if (this.#room && this.#pushed - reader.taken <= this.#bounds.readAhead) this.#freeRoom()
        }
        if (this.#failure) throw this.#failure
        if (this.#ended) return
        this.#wake ??= deferred<void>()
        await this.#wake.promise
      }
    } finally {
      this.#readers.delete(reader)
      this.#freeRoom()
      if (this.#readers.size === 0 && !this.#ended && !this.#failure) {
        // Nobody to keep the payloads for: a caller joining now would wait on a stream its client left.
        this.#unjoinable()
        this.onIdle?.()
      }
    }
  }

  /** A reader that will never come (its caller left before reading): the stream is treated as every reader gone. */
  abandon(): void {
    this.#read = true
    if (this.#readers.size > 0 || this.#ended || this.#failure) return
    this.#unjoinable()
    this.onIdle?.()
  }

  #unjoinable(): void {
    if (!this.#joinable) return
    this.#joinable = false
    this.onUnjoinable?.()
    this.#trim()
  }

  /** Drops the payloads every reader has taken (all of them when nobody reads). */
  #trim(): void {
    if (!this.#read) return
    let slowest = this.#dropped + this.#chunks.length
    for (const reader of this.#readers) slowest = Math.min(slowest, reader.at)
    const drop = slowest - this.#dropped
    // In batches: a splice per payload would copy the array per payload.
    if (drop === 0 || (drop < 1_024 && drop < this.#chunks.length)) return
    this.#chunks.splice(0, drop)
    this.#dropped += drop
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

  /** Makes `stream` joinable until it ends, fails or stops being joinable. */
  register(namespace: string, key: string, stream: LiveStream): void {
    const id = `${namespace}\n${key}`
    this.#live.set(id, stream)
    const remove = () => {
      if (this.#live.get(id) === stream) this.#live.delete(id)
    }
    stream.onUnjoinable = remove
    stream.result.then(remove, remove)
  }

  get size(): number {
    return this.#live.size
  }
}
