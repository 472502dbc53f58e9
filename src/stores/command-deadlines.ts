interface Pending {
  readonly deadline: number
  settled: boolean
  readonly reject: (error: Error) => void
  readonly operation: string
}

/** How a store turns a timed-out or failed command into its typed error. */
export interface CommandErrors {
  timeout(operation: string): Error
  failure(error: unknown, operation: string): Error
  /**
   * Told of every command as it settles (its time, and its error if it failed or timed out) when it
   * returns true from `observing()`: asked per command so that nobody listening costs one call.
   */
  observing?(): boolean
  settled?(operation: string, seconds: number, error: Error | undefined): void
}

/**
 * Per-command timeouts with one timer for all commands in flight.
 *
 * node-redis' own command timeout stops once a command is written to the socket, so a paused server
 * (SIGSTOP: the kernel still accepts the bytes) would leave callers waiting forever. Every command of
 * a store shares one timeout, so deadlines arrive in insertion order: a FIFO queue and a single timer
 * aimed at its head replace a timer per command, which matters at 100k commands/s.
 *
 * Expiry is decided after the event loop's I/O phase: a process stalled past a deadline (a GC pause,
 * a burst of work, a core taken by another process) runs its timers before it reads the replies that
 * arrived meanwhile, and a reply that is there must win over the timeout: a limiter decision that
 * times out goes to the fallback, and 3 gateways on a 2-core machine over-admitted in a cold burst.
 */
export class CommandDeadlines {
  readonly #timeoutMs: number
  readonly #errors: CommandErrors
  #queue: Pending[] = []
  #head = 0
  #timer: NodeJS.Timeout | undefined

  constructor(timeoutMs: number, errors: CommandErrors) {
    this.#timeoutMs = timeoutMs
    this.#errors = errors
  }

  /**
   * Settles like `work` (a failure mapped by `errors.failure`), or rejects with `errors.timeout` if
   * `work` has not settled in time. One promise per command and no closures beyond its two
   * handlers: this runs for every command, so allocations here are GC on the hottest path.
   */
  run<T>(work: Promise<T>, operation: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.#timeoutMs, settled: false, reject, operation }
      this.#queue.push(entry)
      if (this.#timer === undefined) this.#arm()
      work.then(
        (value) => {
          if (entry.settled) return
          entry.settled = true
          if (this.#errors.observing?.()) this.#observe(entry, undefined)
          resolve(value)
        },
        (error) => {
          if (entry.settled) return
          entry.settled = true
          const failure = this.#errors.failure(error, operation)
          if (this.#errors.observing?.()) this.#observe(entry, failure)
          reject(failure)
        },
      )
    })
  }

  /** Stops the timer and rejects every command still in flight with `error()`. */
  clear(error: () => Error): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (let i = this.#head; i < this.#queue.length; i++) {
      const entry = this.#queue[i] as Pending
      if (entry.settled) continue
      entry.settled = true
      entry.reject(error())
    }
    this.#queue = []
    this.#head = 0
  }

  #observe(entry: Pending, error: Error | undefined): void {
    this.#errors.settled?.(entry.operation, (performance.now() - entry.deadline + this.#timeoutMs) / 1000, error)
  }

  #arm(): void {
    while (this.#head < this.#queue.length && (this.#queue[this.#head] as Pending).settled) this.#head++
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    const next = this.#queue[this.#head]
    if (!next) {
      this.#timer = undefined
      return
    }
    this.#timer = setTimeout(() => setImmediate(() => this.#expire()), Math.max(0, next.deadline - performance.now()))
    this.#timer.unref()
  }

  #expire(): void {
    const now = performance.now()
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head] as Pending
      if (!entry.settled && entry.deadline > now) break
      if (!entry.settled) {
        entry.settled = true
        const failure = this.#errors.timeout(entry.operation)
        if (this.#errors.observing?.()) this.#observe(entry, failure)
        entry.reject(failure)
      }
      this.#head++
    }
    this.#arm()
  }
}
