import calculateSlot from 'cluster-key-slot'
import { Cluster, type Redis } from 'ioredis'
import { StoreClosedError, StoreCommandError, StoreTimeoutError } from '../../core/errors.js'
import { TypedEmitter } from '../../core/events.js'
import { CommandDeadlines } from '../command-deadlines.js'
import { INCREMENT } from '../increment.js'
import { checkValueSize, storageKey } from '../keys.js'
import type { SetOptions, Store, StoreCapabilities, StoreEvents, StoreKind, StoreScript } from '../types.js'
import type { StoreUrl } from '../url.js'
import { isNoScript, mapRedisError } from './map-error.js'
import { closeWithin } from './close-within.js'
import { createRedisClient, type RedisClient, type RedisConnectOptions } from './redis-client.js'
import { RedisSubscriber } from './subscriber.js'

export interface RedisStoreOptions extends RedisConnectOptions {
  keyPrefix: string
  commandTimeoutMs: number
  maxValueBytes: number
  maxKeyBytes: number
  closeTimeoutMs: number
}

/** Redis or Valkey: standalone, Cluster or Sentinel, through ioredis. */
export class RedisStore implements Store {
  readonly kind: StoreKind
  readonly name: string
  readonly capabilities: StoreCapabilities
  readonly keyPrefix: string
  readonly events = new TypedEmitter<StoreEvents>()
  readonly #options: RedisStoreOptions
  readonly #client: RedisClient
  readonly #deadlines: CommandDeadlines
  /** Made on the first subscribe: a store that never subscribes opens no second connection. */
  #subscriber: RedisSubscriber | undefined
  /** Until this time a command waits for the first connection instead of failing at once. */
  readonly #initialDeadline: number
  #firstReady: Promise<void>
  #connected = false
  #closed = false
  #closing: Promise<void> | undefined

  constructor(url: StoreUrl, options: RedisStoreOptions) {
    this.kind = url.kind
    this.name = url.safe
    this.keyPrefix = options.keyPrefix
    this.#options = options
    this.capabilities = { scripts: true, pubsub: true, ttlRead: true, shared: true, hashSlots: url.kind === 'redis-cluster' }
    this.#deadlines = new CommandDeadlines(options.commandTimeoutMs, {
      timeout: (operation) => new StoreTimeoutError(this.name, operation, options.commandTimeoutMs),
      failure: (error, operation) => (this.#closed ? new StoreClosedError(this.name) : mapRedisError(error, this.name, operation)),
      observing: () => this.events.listening('command'),
      settled: (operation, seconds, error) => this.events.emit('command', { store: this.name, operation, seconds, ...(error ? { error } : {}) }),
    })
    this.#client = createRedisClient(url, options)
    this.#firstReady = new Promise((resolve) => this.events.once('ready', () => resolve()))
    this.#watch(this.#client)
    this.#initialDeadline = Date.now() + options.connectTimeoutMs
    // connect() rejects when the first attempt fails, but the client keeps retrying by its strategy.
    this.#client.connect().catch(() => {})
  }

  get(key: string): Promise<Buffer | null> {
    return this.#run('get', () => this.#client.getBuffer(this.#key(key)))
  }

  getMany(keys: string[]): Promise<Array<Buffer | null>> {
    if (keys.length === 0) return Promise.resolve([])
    // Cluster refuses a multi-key command across slots (CROSSSLOT); there, one GET per key.
    if (this.kind === 'redis-cluster') return Promise.all(keys.map((key) => this.get(key)))
    const full = keys.map((key) => this.#key(key))
    return this.#run('mget', () => this.#client.mgetBuffer(...full))
  }

  async set(key: string, value: Buffer | string, options: SetOptions = {}): Promise<boolean> {
    checkValueSize(value, this.#options.maxValueBytes)
    const full = this.#key(key)
    const reply = await this.#run('set', () => {
      const client = this.#client as Redis
      if (options.ttlMs && options.ifNotExists) return client.set(full, value, 'PX', wholeMs(options.ttlMs), 'NX')
      if (options.ttlMs) return client.set(full, value, 'PX', wholeMs(options.ttlMs))
      if (options.ifNotExists) return client.set(full, value, 'NX')
      return client.set(full, value)
    })
    return reply !== null
  }

  async delete(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0
    const full = keys.map((key) => this.#key(key))
    if (this.kind !== 'redis-cluster' || full.length === 1) return this.#run('delete', () => this.#client.del(...full))
    // One DEL per key on Cluster: a multi-key DEL across slots is refused with CROSSSLOT.
    const counts = await Promise.all(full.map((k) => this.#run('delete', () => this.#client.del(k))))
    return counts.reduce((a, b) => a + b, 0)
  }

  async increment(key: string, by = 1, options: { ttlMs?: number } = {}): Promise<number> {
    const ttl = options.ttlMs ? String(wholeMs(options.ttlMs)) : ''
    return Number(await this.runScript(INCREMENT, [key], [Math.trunc(by), ttl]))
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    return (await this.#run('expire', () => this.#client.pexpire(this.#key(key), wholeMs(ttlMs)))) === 1
  }

  async pttl(key: string): Promise<number> {
    return this.#run('pttl', () => this.#client.pttl(this.#key(key)))
  }

  async runScript<R>(script: StoreScript<R>, keys: string[], args: Array<string | number>): Promise<R> {
    const full = keys.map((key) => this.#key(key))
    return this.#run(`script ${script.name}`, async () => {
      try {
        return (await this.#client.evalsha(script.sha, full.length, ...full, ...args)) as R
      } catch (err) {
        // The server lost its script cache (restart, failover, SCRIPT FLUSH): EVAL loads it again.
        if (isNoScript(err)) return (await this.#client.eval(script.lua, full.length, ...full, ...args)) as R
        throw err
      }
    })
  }

  nodeOf(key: string): string | undefined {
    if (!(this.#client instanceof Cluster)) return undefined
    return this.#client.slots[calculateSlot(this.#key(key))]?.[0]
  }

  async runScriptOnNode<R>(script: StoreScript<R>, node: string, keys: string[], args: Array<string | number>): Promise<R> {
    const operation = `script ${script.name}`
    const variant = script.crossSlot
    const client = this.#client instanceof Cluster ? this.#client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === node) : undefined
    if (variant === undefined || client === undefined) {
      throw new StoreCommandError(this.name, operation, { cause: new Error(variant ? `no master ${node} in the cluster's node list` : 'the script has no cross-slot variant') })
    }
    const full = keys.map((key) => this.#key(key))
    return this.#run(operation, async () => {
      try {
        return (await client.evalsha(variant.sha, 0, full.length, ...full, ...args)) as R
      } catch (err) {
        if (isNoScript(err)) return (await client.eval(variant.lua, 0, full.length, ...full, ...args)) as R
        throw err
      }
    })
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#run('publish', () => this.#client.publish(this.keyPrefix + channel, message))
  }

  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    if (this.#closed) return Promise.reject(new StoreClosedError(this.name))
    this.#subscriber ??= new RedisSubscriber(this.#client, {
      name: this.name,
      events: this.events,
      run: (operation, command) => this.#run(operation, command),
      reportError: this.#forwardError,
      reconnectMinDelayMs: this.#options.reconnectMinDelayMs,
      reconnectMaxDelayMs: this.#options.reconnectMaxDelayMs,
    })
    return this.#subscriber.subscribe(this.keyPrefix + channel, listener)
  }

  async ping(): Promise<number> {
    const started = performance.now()
    await this.#run('ping', () => this.#client.pttl(this.#key('__ping__')))
    return performance.now() - started
  }

  /** `INFO memory` of the server (of one master, on Cluster), as `field: value`. */
  async serverInfo(): Promise<Record<string, string>> {
    const client = this.kind === 'redis-cluster' ? ((this.#client as Cluster).nodes('master')[0] ?? this.#client) : this.#client
    // Every default section: memory (eviction), clients, stats (keyspace hits), keyspace (key counts).
    const text = await this.#run('info', () => client.info())
    const info: Record<string, string> = Object.create(null) as Record<string, string>
    for (const line of text.split('\r\n')) {
      const colon = line.indexOf(':')
      if (colon > 0 && !line.startsWith('#')) info[line.slice(0, colon)] = line.slice(colon + 1)
    }
    return info
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    // One tick first: what a caller queued for the end of this tick before closing (a rate limiter
    // sends its batch of decisions then) goes out and is answered like any command in flight.
    await new Promise((resolve) => process.nextTick(resolve))
    this.#closed = true
    // QUIT lets the commands in flight have their replies, for up to closeTimeout; only what is still
    // waiting after that is rejected. The subscriber is closed as it is: waiting for it to be ready
    // would wait for ever on a Redis that never answered (and hold up a SIGTERM).
    await Promise.all([closeWithin(this.#client, this.#options.closeTimeoutMs), this.#subscriber?.close(this.#options.closeTimeoutMs)])
    this.#deadlines.clear(() => new StoreClosedError(this.name))
    this.events.removeAllListeners()
  }

  /** Not async on purpose: one promise per command, not three (see CommandDeadlines.run). */
  #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreClosedError(this.name))
    if (!this.#connected && Date.now() < this.#initialDeadline) {
      return this.#waitForFirstConnection().then(() => this.#send(operation, command))
    }
    return this.#send(operation, command)
  }

  #send<T>(operation: string, command: () => Promise<T>): Promise<T> {
    let work: Promise<T>
    try {
      work = command()
    } catch (err) {
      return Promise.reject(mapRedisError(err, this.name, operation))
    }
    return this.#deadlines.run(work, operation)
  }

  /** Right after construction, commands wait (bounded) for the first connection instead of failing. */
  async #waitForFirstConnection(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, this.#initialDeadline - Date.now()))
    })
    await Promise.race([this.#firstReady, deadline])
    clearTimeout(timer)
  }

  #watch(client: RedisClient): void {
    // Without an 'error' listener ioredis would print every connection error to the console; here
    // they become store events, and each command reports its own failure through its promise.
    client.on('error', this.#forwardError)
    client.on('ready', () => {
      if (client instanceof Cluster) void openNodes(client).then(() => this.#setConnected(true))
      else this.#setConnected(true)
    })
    client.on('close', () => this.#setConnected(false))
    client.on('end', () => this.#setConnected(false))
  }

  readonly #forwardError = (error: Error): void => {
    if (!this.#closed) this.events.emit('error', { store: this.name, error })
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected || this.#closed) return
    this.#connected = connected
    if (connected) this.events.emit('ready', { store: this.name })
    else this.events.emit('disconnect', { store: this.name })
  }

  #key(key: string): string {
    return storageKey(this.keyPrefix, key, this.#options.maxKeyBytes)
  }
}

/**
 * ioredis opens a Cluster's node connections lazily, on the first command to each node, and a
 * command that meets a node still connecting takes a retry path that stalls it ~200 ms. Opening
 * them when the cluster becomes ready keeps that off the first requests.
 */
async function openNodes(cluster: Cluster): Promise<void> {
  await Promise.all(cluster.nodes().map((node: Redis) => (node.status === 'wait' ? node.connect().catch(() => {}) : undefined)))
}

/** PX and PEXPIRE take whole milliseconds >= 1; a fractional TTL is rounded up, never to zero. */
function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms))
}
