import { randomUUID } from 'node:crypto'
import { backoff } from '../core/backoff.js'
import { DEFAULTS } from '../core/defaults.js'
import type { Store } from '../stores/types.js'

/** What one instance tells the others. Short field names: every invalidation is one publish. */
export type BusMessage =
  | { op: 'delete'; ns: string; keys: string[] }
  | { op: 'tags'; ns: string; tags: string[]; at: number }
  | { op: 'clear'; ns: string; generation: number }

interface Envelope {
  /** Envelope version: an instance ignores versions it does not know (a newer one in a rolling upgrade). */
  v: typeof VERSION
  /** Sender, so an instance ignores its own messages (it applied them already). */
  from: string
  message: BusMessage
}

const VERSION = 1
/** Most keys or tags one message may carry: a message is one publish, not a bulk channel. */
const MAX_ITEMS = 10_000

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.length <= MAX_ITEMS && value.every((item) => typeof item === 'string')

/**
 * The message of a raw bus payload, or undefined when it is not one this version sent: anyone with
 * PUBLISH rights on the store can write to the channel, so every field is checked before use.
 */
export function parseBusMessage(raw: string): { from: string; message: BusMessage } | undefined {
  let envelope: unknown
  try {
    envelope = JSON.parse(raw)
  } catch {
    return undefined
  }
  const { v, from, message } = (envelope ?? {}) as Partial<Envelope>
  if (v !== VERSION || typeof from !== 'string' || message === null || typeof message !== 'object') return undefined
  const m = message as unknown as Record<string, unknown>
  if (typeof m.ns !== 'string') return undefined
  if (m.op === 'delete' && isStrings(m.keys)) return { from, message: { op: 'delete', ns: m.ns, keys: m.keys } }
  if (m.op === 'tags' && isStrings(m.tags) && Number.isFinite(m.at)) return { from, message: { op: 'tags', ns: m.ns, tags: m.tags, at: m.at as number } }
  if (m.op === 'clear' && Number.isSafeInteger(m.generation)) return { from, message: { op: 'clear', ns: m.ns, generation: m.generation as number } }
  return undefined
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
  #retry: NodeJS.Timeout | undefined
  #attempts = 0
  readonly #offs: Array<() => void>

  constructor(
    private readonly store: Store,
    private readonly onMessage: (message: BusMessage) => void,
    /** Called when the bus comes back after an outage or a failed start: messages may have been lost meanwhile. */
    private readonly onReconnect: () => void,
    private readonly onError: (error: Error) => void,
  ) {
    // Health follows the subscriber connection, not the command one: only it carries the messages,
    // and it is healthy again only once the server acknowledged the resubscription.
    this.#offs = [
      store.events.on('subscriber-lost', () => {
        this.#healthy = false
      }),
      store.events.on('resubscribed', () => {
        if (this.#healthy || !this.#unsubscribe || this.#closed) return
        this.#healthy = true
        this.onReconnect()
      }),
    ]
  }

  /** Subscribed and connected: other instances' invalidations arrive within a round trip. */
  get healthy(): boolean {
    return this.#healthy
  }

  /**
   * Subscribes. Resolves after the first attempt whatever its outcome (a cache must not wait for a
   * Redis that is down); a failure is reported, leaves the bus unhealthy (markers then refresh
   * faster) and is retried with backoff until it succeeds or the bus is closed.
   */
  async start(): Promise<void> {
    try {
      const unsubscribe = await this.store.subscribe(BUS_CHANNEL, (raw) => this.#receive(raw))
      if (this.#closed) return void (await unsubscribe().catch(() => {}))
      this.#unsubscribe = unsubscribe
      this.#healthy = true
      // Subscribed only now: what other instances invalidated before is not in this L1's view.
      if (this.#attempts > 0) this.onReconnect()
    } catch (err) {
      if (this.#closed) return
      this.onError(err as Error)
      const delay = backoff(DEFAULTS.cache.busRetryMinMs, DEFAULTS.cache.busRetryMaxMs)(this.#attempts++)
      this.#retry = setTimeout(() => void this.start(), delay)
      // A retry never keeps a process alive that has nothing else to do.
      this.#retry.unref()
    }
  }

  serialize(message: BusMessage): string {
    return JSON.stringify({ v: VERSION, from: this.id, message } satisfies Envelope)
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#healthy = false
    clearTimeout(this.#retry)
    for (const off of this.#offs) off()
    // Not awaited: on a paused Redis it would hold close() for a whole command timeout, and the
    // store's own close (bounded by closeTimeout) ends the subscription anyway.
    void this.#unsubscribe?.().catch(() => {})
  }

  #receive(raw: string): void {
    const parsed = typeof raw === 'string' ? parseBusMessage(raw) : undefined
    if (!parsed || parsed.from === this.id) return
    // Whatever applying it throws stays here: it would otherwise surface inside the Redis client's
    // reply parser, and take the process down.
    try {
      this.onMessage(parsed.message)
    } catch (err) {
      this.onError(err as Error)
    }
  }
}
