/** One request of the load: when it started, how long it took and how it ended (status 0: no answer). */
export interface Outcome {
  phase: string
  at: number
  ms: number
  status: number
  /** The body of a 5xx, kept to tell who caused it. */
  body?: string
}

/**
 * A steady mix of gateway requests from `concurrency` clients: a third repeat one prompt (hits), a
 * third are new (misses), a third are new streams. Every request has a generous deadline, so a hang
 * shows up as status 0 instead of stalling the suite.
 */
export class Load {
  readonly outcomes: Outcome[] = []
  phase = 'before'
  /** Text added to every prompt (an upstream marker such as `[slow:300]` while that fault lasts). */
  marker = ''
  #running = false
  #workers: Array<Promise<void>> = []
  #n = 0

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly concurrency = 16,
  ) {}

  start(): void {
    this.#running = true
    this.#workers = Array.from({ length: this.concurrency }, () => this.#client())
  }

  async stop(): Promise<void> {
    this.#running = false
    await Promise.all(this.#workers)
  }

  /** Answered requests (2xx) of a phase. */
  ok(phase: string): number {
    return this.outcomes.filter((o) => o.phase === phase && o.status >= 200 && o.status < 300).length
  }

  of(phase: string): Outcome[] {
    return this.outcomes.filter((o) => o.phase === phase)
  }

  async #client(): Promise<void> {
    while (this.#running) {
      const n = this.#n++
      const stream = n % 3 === 2
      const content = `${n % 3 === 0 ? 'the same question' : `question ${n}`} ${this.marker}`
      const started = performance.now()
      const outcome: Outcome = { phase: this.phase, at: Date.now(), ms: 0, status: 0 }
      try {
        const response = await fetch(`${this.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.key}` },
          body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content }] }),
          signal: AbortSignal.timeout(60_000),
        })
        const body = await response.text()
        outcome.status = response.status
        if (response.status >= 500) outcome.body = body
      } catch (err) {
        outcome.body = String(err)
      }
      outcome.ms = performance.now() - started
      this.outcomes.push(outcome)
    }
  }
}

/** The p-th percentile of `values` (0 for none). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}
