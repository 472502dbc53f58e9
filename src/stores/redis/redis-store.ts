import { StoreClosedError, StoreTimeoutError, ValueTooLargeError } from '../../core/errors.js'
import { TypedEmitter } from '../../core/events.js'
import { CommandDeadlines } from '../command-deadlines.js'
import { INCREMENT } from '../increment.js'
import { storageKey } from '../keys.js'
import type { SetOptions, Store, StoreCapabilities, StoreEvents, StoreKind, StoreScript } from '../types.js'
import type { StoreUrl } from '../url.js'
import { isNoScript, mapRedisError } from './map-error.js'
import { backoff, binaryView, createRedisClient, type RedisClientLike, type RedisConnectOptions } from './redis-client.js'

export interface RedisStoreOptions extends RedisConnectOptions {
  keyPrefix: string
  commandTimeoutMs: number
  maxValueBytes: number
  maxKeyBytes: number
  closeTimeoutMs: number
}

/** Redis or Valkey: standalone, Cluster or Sentinel, through node-redis. */
export class RedisStore implements Store {
  readonly kind: StoreKind
  readonly name: string
  readonly capabilities: StoreCapabilities
  readonly keyPrefix: string
  readonly events = new TypedEmitter<StoreEvents>()
  readonly #options: RedisStoreOptions
  readonly #client: RedisClientLike
  readonly #binary: RedisClientLike
  readonly #deadlines: CommandDeadlines
  #subscriber: Promise<RedisClientLike> | undefined
  #connecting: Promise<unknown>
  /** Until this time a command waits for the first connection instead of failing at once. */
  readonly #initialDeadline: number
  #connected = false
  #closed = false
  #retryTimer: NodeJS.Timeout | undefined

  constructor(url: StoreUrl, options: RedisStoreOptions) {
    this.kind = url.kind
    this.name = url.safe
    this.keyPrefix = options.keyPrefix
    this.#options = options
    this.capabilities = {
      scripts: true,
      pubsub: true,
      ttlRead: true,
      shared: true,
      hashSlots: url.kind === 'redis-cluster',
    }
    this.#deadlines = new CommandDeadlines(options.commandTimeoutMs)
    this.#client = createRedisClient(url, options)
    this.#binary = binaryView(this.#client)
    this.#watch(this.#client)
    this.#initialDeadline = Date.now() + options.connectTimeoutMs
    this.#connecting = this.#connect(0)
  }

  async get(key: string): Promise<Buffer | null> {
    const reply = await this.#run('get', () => this.#binary.get(this.#key(key)))
    return reply === null ? null : Buffer.isBuffer(reply) ? reply : Buffer.from(reply)
  }

  async set(key: string, value: Buffer | string, options: SetOptions = {}): Promise<boolean> {
    const bytes = Buffer.isBuffer(value) ? value.byteLength : Buffer.byteLength(value)
    if (bytes > this.#options.maxValueBytes) throw new ValueTooLargeError(bytes, this.#options.maxValueBytes)
    const setOptions: Record<string, unknown> = {}
    if (options.ttlMs) setOptions.expiration = { type: 'PX', value: wholeMs(options.ttlMs) }
    if (options.ifNotExists) setOptions.condition = 'NX'
    const reply = await this.#run('set', () => this.#client.set(this.#key(key), value, setOptions))
    return reply !== null
  }

  async delete(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0
    const full = keys.map((key) => this.#key(key))
    if (this.kind !== 'redis-cluster' || full.length === 1) return this.#run('delete', () => this.#client.del(full))
    // One DEL per key on Cluster: a multi-key DEL across slots is refused with CROSSSLOT.
    const counts = await Promise.all(full.map((k) => this.#run('delete', () => this.#client.del(k))))
    return counts.reduce((a, b) => a + b, 0)
  }

  async increment(key: string, by = 1, options: { ttlMs?: number } = {}): Promise<number> {
    const ttl = options.ttlMs ? String(wholeMs(options.ttlMs)) : ''
    return Number(await this.runScript(INCREMENT, [key], [Math.trunc(by), ttl]))
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    return (await this.#run('expire', () => this.#client.pExpire(this.#key(key), wholeMs(ttlMs)))) === 1
  }

  async pttl(key: string): Promise<number> {
    return this.#run('pttl', () => this.#client.pTTL(this.#key(key)))
  }

  async runScript<R>(script: StoreScript<R>, keys: string[], args: Array<string | number>): Promise<R> {
    const options = { keys: keys.map((key) => this.#key(key)), arguments: args.map(String) }
    const operation = `script ${script.name}`
    return this.#run(operation, async () => {
      try {
        return (await this.#client.evalSha(script.sha, options)) as R
      } catch (err) {
        // The server lost its script cache (restart, failover, SCRIPT FLUSH): EVAL loads it again.
        if (isNoScript(err)) return (await this.#client.eval(script.lua, options)) as R
        throw err
      }
    })
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#run('publish', () => this.#client.publish(this.keyPrefix + channel, message))
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    const name = this.keyPrefix + channel
    const subscriber = await this.#run('subscribe', () => this.#subscriberClient())
    await this.#run('subscribe', () => subscriber.subscribe(name, listener))
    return async () => {
      if (this.#closed) return
      await this.#run('unsubscribe', () => subscriber.unsubscribe(name, listener))
    }
  }

  async ping(): Promise<number> {
    const started = performance.now()
    await this.#run('ping', () => this.#binary.pTTL(this.#key('__ping__')))
    return performance.now() - started
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retryTimer)
    this.#deadlines.clear(() => new StoreClosedError(this.name))
    const clients = [this.#client]
    const subscriber = await this.#subscriber?.catch(() => undefined)
    if (subscriber) clients.push(subscriber)
    await Promise.all(clients.map((client) => closeWithin(client, this.#options.closeTimeoutMs)))
    this.events.removeAllListeners()
  }

  async #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreClosedError(this.name)
    if (!this.#connected && Date.now() < this.#initialDeadline) await this.#waitForFirstConnection()
    try {
      return await this.#deadlines.run(command(), () => new StoreTimeoutError(this.name, operation, this.#options.commandTimeoutMs))
    } catch (err) {
      if (err instanceof StoreTimeoutError) throw err
      if (this.#closed) throw new StoreClosedError(this.name)
      throw mapRedisError(err, this.name, operation, this.#options.commandTimeoutMs)
    }
  }

  /** Right after construction, commands wait (bounded) for the first connection instead of failing. */
  async #waitForFirstConnection(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, this.#initialDeadline - Date.now()))
    })
    await Promise.race([this.#connecting.catch(() => undefined), deadline])
    clearTimeout(timer)
  }

  /**
   * node-redis retries a standalone connection by itself, but a Cluster or Sentinel client whose
   * first discovery fails stays closed for good; retry those here with the same capped backoff.
   */
  async #connect(attempt: number): Promise<void> {
    try {
      await this.#client.connect()
      this.#setConnected(true)
    } catch (err) {
      if (this.#closed) return
      this.events.emit('error', { store: this.name, error: err as Error })
      if (this.kind === 'redis' || this.#client.isOpen) return
      const delay = backoff(this.#options.reconnectMinDelayMs, this.#options.reconnectMaxDelayMs)(attempt)
      await new Promise<void>((resolve) => {
        this.#retryTimer = setTimeout(resolve, delay)
        this.#retryTimer.unref()
      })
      if (!this.#closed) this.#connecting = this.#connect(attempt + 1)
      throw err
    }
  }

  #watch(client: RedisClientLike): void {
    // Without an 'error' listener node-redis' errors would be thrown as unhandled 'error' events and
    // take the process down; here they become store events and each command reports its own failure.
    client.on('error', (error: Error) => {
      if (!this.#closed) this.events.emit('error', { store: this.name, error })
    })
    client.on('ready', () => this.#setConnected(true))
    client.on('end', () => this.#setConnected(false))
    client.on('reconnecting', () => this.#setConnected(false))
    client.on('disconnect', () => this.#setConnected(false))
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected || this.#closed) return
    this.#connected = connected
    if (connected) this.events.emit('ready', { store: this.name })
    else this.events.emit('disconnect', { store: this.name })
  }

  #subscriberClient(): Promise<RedisClientLike> {
    // Standalone: a subscribed connection can run nothing else, so pub/sub gets its own. Cluster and
    // Sentinel clients keep a dedicated pub/sub connection of their own already.
    if (!this.#client.duplicate) return Promise.resolve(this.#client)
    this.#subscriber ??= (async () => {
      const subscriber = (this.#client.duplicate as () => RedisClientLike)()
      subscriber.on('error', (error: Error) => {
        if (!this.#closed) this.events.emit('error', { store: this.name, error })
      })
      await subscriber.connect()
      return subscriber
    })()
    this.#subscriber.catch(() => {
      this.#subscriber = undefined
    })
    return this.#subscriber
  }

  #key(key: string): string {
    return storageKey(this.keyPrefix, key, this.#options.maxKeyBytes)
  }
}

/** PX and PEXPIRE take whole milliseconds >= 1; a fractional TTL is rounded up, never to zero. */
function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms))
}

async function closeWithin(client: RedisClientLike, timeoutMs: number): Promise<void> {
  if (!client.isOpen) {
    client.destroy()
    return
  }
  let timer: NodeJS.Timeout | undefined
  let closed = false
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs)
  })
  const graceful = client
    .close()
    .catch(() => undefined)
    .then(() => {
      closed = true
    })
  // A graceful close waits for replies to commands in flight; a paused server may never send them.
  await Promise.race([graceful, timeout])
  clearTimeout(timer)
  if (!closed) client.destroy()
}
