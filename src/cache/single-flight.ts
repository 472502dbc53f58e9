/**
 * One in-flight promise per key in this process: concurrent callers for the same key share the first
 * caller's work. The entry is removed when the work settles, so a failure is never cached here.
 */
export class SingleFlight {
  readonly #flights = new Map<string, Promise<unknown>>()

  /** The running flight for `key`, if any. */
  get<T>(key: string): Promise<T> | undefined {
    return this.#flights.get(key) as Promise<T> | undefined
  }

  /** Starts `work` for `key`; the caller must have checked {@link get} first. */
  start<T>(key: string, work: () => Promise<T>): Promise<T> {
    const flight = work().finally(() => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
    })
    this.#flights.set(key, flight)
    return flight
  }

  get size(): number {
    return this.#flights.size
  }
}
