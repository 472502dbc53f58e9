import { Cluster, Redis } from 'ioredis'
import type { TypedEmitter } from '../../core/events.js'
import type { StoreEvents } from '../types.js'
import { closeWithin } from './close-within.js'
import { backoff } from '../../core/backoff.js'
import type { RedisClient } from './redis-client.js'

/** What the subscriber borrows from its store. */
export interface SubscriberContext {
  name: string
  events: TypedEmitter<StoreEvents>
  /** Runs a command under the store's deadline. */
  run<T>(operation: string, command: () => Promise<T>): Promise<T>
  reportError(error: Error): void
  reconnectMinDelayMs: number
  reconnectMaxDelayMs: number
}

/** Reconnect attempts to one Cluster node before the subscriber moves to the next one. */
const NODE_ATTEMPTS = 3

/**
 * The store's pub/sub connection: a subscribed connection can run nothing else. It resubscribes
 * every channel after each reconnect itself (ioredis' own resubscribe leaves its promise unhandled,
 * which crashed the process when the connection dropped again at that moment), retries a refused
 * resubscription with backoff, and reports its health as store events: `subscriber-lost` when the
 * connection goes, `resubscribed` once the server acknowledged every channel again.
 *
 * On a Cluster it is a plain connection to one node (a PUBLISH on any node reaches the subscribers of
 * every node), moved to the next node after a few failed reconnects: ioredis' Cluster subscriber
 * switches nodes without telling, so its health could not be followed.
 */
export class RedisSubscriber {
  readonly #listeners = new Map<string, Set<(message: string) => void>>()
  #connection: Redis | undefined
  #ready: Promise<Redis> | undefined
  #node = 0
  #closed = false

  constructor(
    private readonly source: RedisClient,
    private readonly context: SubscriberContext,
  ) {}

  async subscribe(name: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    const { run } = this.context
    const connection = await run('subscribe', () => this.#connect())
    let listeners = this.#listeners.get(name)
    if (!listeners) {
      listeners = new Set()
      this.#listeners.set(name, listeners)
      try {
        await run('subscribe', () => connection.subscribe(name))
      } catch (err) {
        this.#listeners.delete(name)
        throw err
      }
    }
    listeners.add(listener)
    return async () => {
      const current = this.#listeners.get(name)
      if (!current?.delete(listener) || current.size > 0 || this.#closed) return
      this.#listeners.delete(name)
      const now = this.#connection
      if (now) await run('unsubscribe', () => now.unsubscribe(name))
    }
  }

  /** Ends the connection as it is: waiting for it to be ready would wait for ever on a Redis that never answered. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    if (this.#connection) await closeWithin(this.#connection, timeoutMs)
  }

  #connect(): Promise<Redis> {
    if (this.#ready) return this.#ready
    const connection = this.#open()
    this.#connection = connection
    this.#ready = new Promise<Redis>((resolve) => connection.once('ready', () => resolve(connection)))
    connection.connect().catch(() => {})
    return this.#ready
  }

  #open(): Redis {
    const connection = this.source instanceof Cluster ? this.#nodeConnection(this.source) : this.source.duplicate({ autoResubscribe: false })
    let wasReady = false
    connection.on('ready', () => {
      wasReady = true
      this.#resubscribe(connection, 0)
    })
    connection.on('close', () => {
      if (wasReady && !this.#closed) this.context.events.emit('subscriber-lost', { store: this.context.name })
      wasReady = false
    })
    // A Cluster node connection that gave up: the next node takes over, with every channel.
    connection.on('end', () => {
      if (this.#closed || this.#connection !== connection || !(this.source instanceof Cluster)) return
      this.#ready = undefined
      this.#connection = undefined
      void this.#connect()
    })
    connection.on('error', (error: Error) => this.#closed || this.context.reportError(error))
    connection.on('message', (channel: string, message: string) => {
      const listeners = this.#listeners.get(channel)
      if (!listeners) return
      for (const listener of listeners) {
        // A listener's exception must not escape into ioredis' reply parser: it would end the process.
        try {
          listener(message)
        } catch (err) {
          this.context.reportError(err as Error)
        }
      }
    })
    return connection
  }

  #nodeConnection(cluster: Cluster): Redis {
    const nodes = cluster.nodes('master')
    const node = nodes.length > 0 ? nodes[this.#node++ % nodes.length] : undefined
    const { host, port, username, password, tls, connectTimeout } = (node ?? cluster.nodes()[0])?.options ?? {}
    const delay = backoff(this.context.reconnectMinDelayMs, this.context.reconnectMaxDelayMs)
    return new Redis({
      host,
      port,
      username,
      password,
      tls,
      connectTimeout,
      lazyConnect: true,
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => (times > NODE_ATTEMPTS ? null : delay(times)),
    })
  }

  /**
   * Subscribes a (re)connected connection to every channel it had; only the server's
   * acknowledgement makes it "resubscribed". A refusal (an ACL change took the channel away) is
   * retried with the reconnect backoff for as long as the connection lasts.
   */
  #resubscribe(connection: Redis, attempt: number): void {
    const channels = [...this.#listeners.keys()]
    if (channels.length === 0 || this.#closed || connection.status !== 'ready' || this.#connection !== connection) return
    connection.subscribe(...channels).then(
      () => this.#closed || this.context.events.emit('resubscribed', { store: this.context.name }),
      (error: Error) => {
        this.context.reportError(error)
        const delay = backoff(this.context.reconnectMinDelayMs, this.context.reconnectMaxDelayMs)(attempt)
        setTimeout(() => this.#resubscribe(connection, attempt + 1), delay).unref()
      },
    )
  }
}
