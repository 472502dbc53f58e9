import { randomUUID } from 'node:crypto'
import type { Store } from '../stores/types.js'

/** What one instance tells the others. Short field names: every invalidation is one publish. */
export type BusMessage =
  | { op: 'delete'; ns: string; keys: string[] }
  | { op: 'tags'; ns: string; tags: string[]; at: number }
  | { op: 'clear'; ns: string; generation: number }

interface Envelope {
  /** Sender, so an instance ignores its own messages (it applied them already). */
  from: string
  message: BusMessage
}

export const BUS_CHANNEL = 'c:bus'

/**
 * Keeps L1 coherent across instances: every invalidation is published on one pub/sub channel (under
 * the store's key prefix) and applied by every other instance's cache. It is an accelerator, not the
 * source of truth: markers in L2 and L1 TTLs bound what a lost message can cost (see `Markers`).
 */
export class InvalidationBus {
  readonly id = randomUUID()
  #unsubscribe: (() => Promise<void>) | undefined
  #healthy = false
  #closed = false
  readonly #offs: Array<() => void>

  constructor(
    private readonly store: Store,
    private readonly onMessage: (message: BusMessage) => void,
    /** Called when the bus comes back after a disconnect: messages may have been lost meanwhile. */
    private readonly onReconnect: () => void,
    private readonly onError: (error: Error) => void,
  ) {
    this.#offs = [
      store.events.on('disconnect', () => {
        this.#healthy = false
      }),
      store.events.on('ready', () => {
        if (this.#healthy || !this.#unsubscribe) return
        this.#healthy = true
        this.onReconnect()
      }),
    ]
  }

  /** Subscribed and connected: other instances' invalidations arrive within a round trip. */
  get healthy(): boolean {
    return this.#healthy
  }

  /** Subscribes; a failure is reported and leaves the bus unhealthy (markers then refresh faster). */
  async start(): Promise<void> {
    try {
      const unsubscribe = await this.store.subscribe(BUS_CHANNEL, (raw) => this.#receive(raw))
      if (this.#closed) return void (await unsubscribe().catch(() => {}))
      this.#unsubscribe = unsubscribe
      this.#healthy = true
    } catch (err) {
      this.onError(err as Error)
    }
  }

  serialize(message: BusMessage): string {
    return JSON.stringify({ from: this.id, message } satisfies Envelope)
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#healthy = false
    for (const off of this.#offs) off()
    await this.#unsubscribe?.().catch(() => {})
  }

  #receive(raw: string): void {
    let envelope: Envelope
    try {
      envelope = JSON.parse(raw) as Envelope
    } catch {
      return
    }
    if (envelope?.from === this.id || typeof envelope?.message?.ns !== 'string') return
    this.onMessage(envelope.message)
  }
}
