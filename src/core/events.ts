import { EventEmitter } from 'node:events'

/**
 * The one small emitter every capability uses to report what it does (hit, miss, allowed, blocked,
 * store-error, ...). Metrics, logs and the dashboard subscribe to it; capabilities never import them.
 * A thin typed face over EventEmitter, per instance, so two instances never share listeners.
 */
export class TypedEmitter<Events extends Record<string, unknown>> {
  readonly #emitter = new EventEmitter()

  constructor() {
    // An 'error' event on a plain EventEmitter throws when nobody listens; events here are reports,
    // never control flow, so that must not crash a process that simply didn't subscribe.
    this.#emitter.on('error', () => {})
  }

  on<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): () => void {
    this.#emitter.on(event, listener)
    return () => this.#emitter.off(event, listener)
  }

  once<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): () => void {
    this.#emitter.once(event, listener)
    return () => this.#emitter.off(event, listener)
  }

  off<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): void {
    this.#emitter.off(event, listener)
  }

  /** Whether anyone listens to `event`: lets a hot path skip building a payload nobody reads. */
  listening<K extends keyof Events & string>(event: K): boolean {
    return this.#emitter.listenerCount(event) > 0
  }

  /** @internal */
  emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    // Skip building nothing for nobody: emit is on hot paths.
    if (this.#emitter.listenerCount(event) > 0) this.#emitter.emit(event, payload)
  }

  removeAllListeners(): void {
    this.#emitter.removeAllListeners()
    this.#emitter.on('error', () => {})
  }
}
