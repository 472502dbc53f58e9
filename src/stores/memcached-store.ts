import memjs from 'memjs'
import {
  StoreClosedError,
  StoreCommandError,
  StoreTimeoutError,
  StoreUnavailableError,
  UnsupportedByStoreError,
} from '../core/errors.js'
import { TypedEmitter } from '../core/events.js'
import { checkValueSize, storageKey } from './keys.js'
import type { SetOptions, Store, StoreCapabilities, StoreEvents, StoreScript } from './types.js'
import type { StoreUrl } from './url.js'

export interface MemcachedStoreOptions {
  keyPrefix: string
  maxValueBytes: number
  maxKeyBytes: number
  commandTimeoutMs: number
  connectTimeoutMs: number
}

const CAPABILITIES: StoreCapabilities = { scripts: false, pubsub: false, ttlRead: false, shared: true, hashSlots: false }
/** memcached reads an expiry above 30 days as an absolute Unix time rather than a relative one. */
const RELATIVE_EXPIRY_LIMIT_S = 30 * 24 * 3600
const MEMCACHED_MAX_KEY = 250

/**
 * memcached through memjs (binary protocol). Values, TTLs (whole seconds: memcached's resolution, so
 * a TTL is rounded up) and atomic counters; no scripts, no pub/sub, no TTL reads, which
 * `capabilities` says so capabilities needing them refuse it at construction.
 */
export class MemcachedStore implements Store {
  readonly kind = 'memcached' as const
  readonly name: string
  readonly capabilities = CAPABILITIES
  readonly keyPrefix: string
  readonly events = new TypedEmitter<StoreEvents>()
  readonly #client: memjs.Client
  readonly #options: MemcachedStoreOptions
  readonly #maxKeyBytes: number
  #closed = false

  constructor(url: StoreUrl, options: MemcachedStoreOptions) {
    this.name = url.safe
    this.keyPrefix = options.keyPrefix
    this.#options = options
    // Hashed keys are 65 bytes; whatever the prefix leaves of memcached's 250 is the budget for keys.
    this.#maxKeyBytes = Math.min(options.maxKeyBytes, MEMCACHED_MAX_KEY - Buffer.byteLength(options.keyPrefix))
    const servers = url.hosts.map(({ host, port }) => {
      const auth = url.username ? `${encodeURIComponent(url.username)}:${encodeURIComponent(url.password ?? '')}@` : ''
      return `${auth}${host.includes(':') ? `[${host}]` : host}:${port}`
    })
    this.#client = memjs.Client.create(servers.join(','), {
      // One attempt per command: retrying inside the driver would multiply the timeout callers budget.
      retries: 1,
      timeout: options.commandTimeoutMs / 1000,
      conntimeout: options.connectTimeoutMs / 1000,
      keepAlive: true,
      logger: { log: () => {} },
    } as memjs.ClientOptions)
  }

  async get(key: string): Promise<Buffer | null> {
    const { value } = await this.#run('get', () => this.#client.get(this.#key(key)))
    return value ?? null
  }

  /** One get per key: memjs's binary-protocol client has no multi-get, and the gets share a connection anyway. */
  async getMany(keys: string[]): Promise<Array<Buffer | null>> {
    return Promise.all(keys.map((key) => this.get(key)))
  }

  async set(key: string, value: Buffer | string, options: SetOptions = {}): Promise<boolean> {
    checkValueSize(value, this.#options.maxValueBytes)
    const insert = { expires: expiry(options.ttlMs) }
    const full = this.#key(key)
    if (options.ifNotExists) return this.#run('set', () => this.#client.add(full, value, insert))
    return this.#run('set', () => this.#client.set(full, value, insert))
  }

  async delete(...keys: string[]): Promise<number> {
    const results = await Promise.all(keys.map((key) => this.#run('delete', () => this.#client.delete(this.#key(key)))))
    return results.filter(Boolean).length
  }

  /**
   * memcached's binary increment creates a missing counter with an initial value and expiry in the
   * same operation, so create-or-increment is atomic. Limits: counters are unsigned (a negative `by`
   * decrements and stops at 0) and memjs reads replies as 32-bit, so counts stay below 2^32.
   */
  async increment(key: string, by = 1, options: { ttlMs?: number } = {}): Promise<number> {
    const full = this.#key(key)
    const amount = Math.abs(Math.trunc(by))
    const insert = { initial: by < 0 ? 0 : amount, expires: expiry(options.ttlMs) }
    const reply = await this.#run('increment', () =>
      by < 0 ? this.#client.decrement(full, amount, insert) : this.#client.increment(full, amount, insert),
    )
    return Number(reply.value)
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    return this.#run('expire', () => this.#client.touch(this.#key(key), expiry(ttlMs)))
  }

  async pttl(): Promise<number> {
    throw new UnsupportedByStoreError(this.name, 'reading a key TTL')
  }

  async runScript<R>(script: StoreScript<R>): Promise<R> {
    throw new UnsupportedByStoreError(this.name, 'atomic scripts', `script ${script.name}`)
  }

  async publish(): Promise<void> {
    throw new UnsupportedByStoreError(this.name, 'publish/subscribe')
  }

  async subscribe(): Promise<() => Promise<void>> {
    throw new UnsupportedByStoreError(this.name, 'publish/subscribe')
  }

  async ping(): Promise<number> {
    const started = performance.now()
    await this.#run('ping', () => this.#client.get(this.#key('__ping__')))
    return performance.now() - started
  }

  /** memcached evicts least-recently-used items when full (unless started with -M), in Redis' INFO terms. */
  async serverInfo(): Promise<Record<string, string>> {
    return { maxmemory_policy: 'allkeys-lru' }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#client.close()
    this.events.removeAllListeners()
  }

  async #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreClosedError(this.name)
    try {
      return await command()
    } catch (err) {
      if (this.#closed) throw new StoreClosedError(this.name)
      const error = err instanceof Error ? err : new Error(String(err))
      this.events.emit('error', { store: this.name, error })
      // memjs reports server answers as "MemJS <OP>: <status>"; anything else is the connection.
      if (error.message.startsWith('MemJS ')) throw new StoreCommandError(this.name, operation, { cause: error })
      if (/timed out/i.test(error.message)) {
        throw new StoreTimeoutError(this.name, operation, this.#options.commandTimeoutMs, { cause: error })
      }
      throw new StoreUnavailableError(this.name, operation, { cause: error })
    }
  }

  #key(key: string): string {
    return storageKey(this.keyPrefix, key, this.#maxKeyBytes)
  }
}

function expiry(ttlMs: number | undefined): number {
  if (!ttlMs) return 0
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000))
  return seconds > RELATIVE_EXPIRY_LIMIT_S ? Math.floor(Date.now() / 1000) + seconds : seconds
}
