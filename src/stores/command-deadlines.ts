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
 * How much longer than the timeout a command may wait while its store keeps answering others: a
 * burst queues commands in the client (and behind a busy event loop) for longer than one command
 * takes the server, and a decision then sent to the fallback over-admits. A store that answers
 * nothing is still found out within the timeout; a paused node of a Cluster whose other nodes answer,
 * within this many timeouts.
 */
const ANSWERING_STORE_PATIENCE = 5

/**
 * Per-command timeouts with one timer for all commands in flight.
 *
 * node-redis' own command timeout stops once a command is written to the socket, so a paused server
 * (SIGSTOP: the kernel still accepts the bytes) would leave callers waiting forever. Every command of
 * a store shares one timeout, so deadlines arrive in insertion order: a FIFO queue and a single timer
 * aimed at its head replace a timer per command, which matters at 100k commands/s.
 *
 * The timeout measures the store's silence, not a command's time in the client's queue: a command
 * past its deadline fails only if no command settled within the last timeout (or once it waited
 * {@link ANSWERING_STORE_PATIENCE} timeouts). Expiry is decided after the event loop's I/O phase: a
 * loop stalled past a deadline (a GC pause, a burst of work) runs its timers before it reads the
 * replies that arrived meanwhile, and those replies must win.
 */
export class CommandDeadlines {
  readonly #timeoutMs: number
  readonly #errors: CommandErrors
  #queue: Pending[] = []
  #head = 0
  #timer: NodeJS.Timeout | undefined
  /** When a command last settled: the store (or its client) is making progress. */
  #lastProgress = performance.now()

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
          this.#lastProgress = performance.now()
          if (this.#errors.observing?.()) this.#observe(entry, undefined)
          resolve(value)
        },
        (error) => {
          if (entry.settled) return
          entry.settled = true
          this.#lastProgress = performance.now()
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
    const due = Math.max(next.deadline, Math.min(this.#lastProgress + this.#timeoutMs, this.#latest(next)))
    this.#timer = setTimeout(() => setImmediate(() => this.#expire()), Math.max(0, due - performance.now()))
    this.#timer.unref()
  }

  /** The longest a command waits while its store answers others. */
  #latest(entry: Pending): number {
    return entry.deadline + (ANSWERING_STORE_PATIENCE - 1) * this.#timeoutMs
  }

  #expire(): void {
    const now = performance.now()
    const answering = now - this.#lastProgress < this.#timeoutMs
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head] as Pending
      if (!entry.settled && (entry.deadline > now || (answering && this.#latest(entry) > now))) break
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
