import type { Clock } from './clock.js'

export type CircuitState = 'closed' | 'open' | 'half-open'

/**
 * Stops calling a store that keeps failing. Closed: every call goes through. After
 * `failureThreshold` consecutive failures: open, no calls, until `probeIntervalMs` has passed; then
 * half-open: exactly one call (the probe) goes through while the others still take the fallback
 * path. A successful probe closes the circuit, a failed one opens it for another interval.
 */
export class CircuitBreaker {
  #state: CircuitState = 'closed'
  #failures = 0
  #openUntil = 0
  #probing = false

  constructor(
    private readonly clock: Clock,
    private readonly failureThreshold: number,
    private readonly probeIntervalMs: number,
  ) {}

  get state(): CircuitState {
    return this.#state
  }

  /** Whether this call may go to the store; in half-open state, true for one caller at a time. */
  allow(): boolean {
    if (this.#state === 'closed') return true
    if (this.#probing) return false
    if (this.#state === 'open' && this.clock.now() < this.#openUntil) return false
    this.#state = 'half-open'
    this.#probing = true
    return true
  }

  /** Lets the next call probe at once (the store reported it reconnected). */
  probeNow(): void {
    if (this.#state === 'open') this.#openUntil = 0
  }

  success(): void {
    this.#failures = 0
    this.#probing = false
    this.#state = 'closed'
  }

  /**
   * Ends a call that neither succeeded nor showed the store down (an unexpected error): a probe is
   * released, so the next call probes again, instead of the circuit waiting for ever on a probe that
   * will never report.
   */
  settle(): void {
    this.#probing = false
  }

  failure(): void {
    this.#failures++
    this.#probing = false
    if (this.#state !== 'closed' || this.#failures >= this.failureThreshold) {
      this.#state = 'open'
      this.#openUntil = this.clock.now() + this.probeIntervalMs
    }
  }
}
