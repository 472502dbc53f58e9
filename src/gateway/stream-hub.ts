/** A live upstream stream (its event payloads) that other requests for the same key can join while it runs. */
class LiveStream {
  readonly chunks: string[] = []
  readonly listeners = new Set<(chunk: string | null) => void>()
  ended = false

  push(chunk: string): void {
    this.chunks.push(chunk)
    for (const listener of this.listeners) listener(chunk)
  }

  end(): void {
    this.ended = true
    for (const listener of this.listeners) listener(null)
    this.listeners.clear()
  }

  /** Everything so far, then every later chunk; `null` marks the end. */
  follow(listener: (chunk: string | null) => void): void {
    for (const chunk of this.chunks) listener(chunk)
    if (this.ended) listener(null)
    else this.listeners.add(listener)
  }
}

/**
 * The streams in flight in this process, by cache key: a follower of an identical streaming request
 * receives the same bytes as the leader, from the first one, instead of waiting for the end.
 */
export class StreamHub {
  readonly #live = new Map<string, LiveStream>()

  start(key: string): LiveStream {
    const stream = new LiveStream()
    this.#live.set(key, stream)
    return stream
  }

  get(key: string): LiveStream | undefined {
    return this.#live.get(key)
  }

  finish(key: string, stream: LiveStream): void {
    stream.end()
    if (this.#live.get(key) === stream) this.#live.delete(key)
  }
}

export type { LiveStream }
