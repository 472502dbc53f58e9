import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import { DEFAULTS } from '../core/defaults.js'
import type { Duration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'
import { byteSize, parseOptions, positiveTimerMs, timerMs } from '../core/options.js'
import { MemcachedStore } from './memcached-store.js'
import { MemoryStore } from './memory-store.js'
import { RedisStore } from './redis/redis-store.js'
import type { Store } from './types.js'
import { parseStoreUrl } from './url.js'

export interface CreateStoreOptions {
  /**
   * Which store: `memory://`, `redis://[user:pass@]host:port/db`, `rediss://` (TLS), `valkey://`,
   * `redis+cluster://host:port,host:port`, `redis+sentinel://host:port,host:port/mastername`,
   * `memcached://host:port[,host:port]`. Default `memory://`.
   */
  url?: string
  /** Prepended to every key and pub/sub channel, e.g. `booking_bot:client1:`. Default `''`. */
  keyPrefix?: string
  /** Per-command timeout; a command that takes longer fails with `E_STORE_TIMEOUT`. Default 100 ms. */
  commandTimeout?: Duration
  /** Connection (TCP + TLS + handshake) timeout. Default 2 s. */
  connectTimeout?: Duration
  /** Cap of the reconnect backoff (which starts at 50 ms and doubles). Default 2 s. */
  reconnectMaxDelay?: Duration
  /** How long `close()` waits for in-flight commands before dropping connections. Default 1 s. */
  closeTimeout?: Duration
  /** Largest value accepted, in bytes; larger ones throw `E_VALUE_TOO_LARGE`. Default 1 MiB. */
  maxValueBytes?: number
  /** Keys longer than this many UTF-8 bytes are stored under their SHA-256. Default 512. */
  maxKeyBytes?: number
  /** Memory store only: byte budget, LRU-evicted beyond it. Default 64 MiB. */
  maxBytes?: number
  /** Memory store only: false refuses writes past `maxBytes` (`E_STORE_FULL`) instead of evicting. Default true. */
  evict?: boolean
  /** Memory store only: the clock TTLs are measured with. Default the system clock. */
  clock?: Clock
  /** rediss:// only: options for `tls.connect` (ca, cert, key, servername, rejectUnauthorized). */
  tls?: Record<string, unknown>
}

const schema = z
  .object({
    url: z.string({ message: 'a store URL string' }).default(DEFAULTS.store.url),
    keyPrefix: z.string({ message: 'a string' }).max(200, { message: 'a prefix of at most 200 characters' }).default(''),
    commandTimeout: positiveTimerMs.default(DEFAULTS.store.commandTimeoutMs),
    connectTimeout: positiveTimerMs.default(DEFAULTS.store.connectTimeoutMs),
    reconnectMaxDelay: positiveTimerMs.default(DEFAULTS.store.reconnectMaxDelayMs),
    closeTimeout: timerMs.default(DEFAULTS.store.closeTimeoutMs),
    maxValueBytes: byteSize().default(DEFAULTS.store.maxValueBytes),
    maxKeyBytes: byteSize(80).default(DEFAULTS.store.maxKeyBytes),
    maxBytes: byteSize(1024).default(DEFAULTS.memory.maxBytes),
    evict: z.boolean({ message: 'true or false' }).default(true),
    clock: z.custom<Clock>((v) => typeof (v as Clock)?.now === 'function', { message: 'an object with now()' }).optional(),
    tls: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()

/**
 * Creates a store from a URL. Connection happens in the background; the first commands wait for it
 * (up to `connectTimeout`), later ones fail fast with `E_STORE_UNAVAILABLE` while disconnected.
 *
 * @example
 * const store = createStore({ url: 'redis://127.0.0.1:6379/0', keyPrefix: 'app:' })
 */
export function createStore(options: CreateStoreOptions = {}): Store {
  const o = parseOptions(schema, options)
  const url = parseStoreUrl(o.url)
  switch (url.kind) {
    case 'memory':
      return new MemoryStore({
        keyPrefix: o.keyPrefix,
        maxBytes: o.maxBytes,
        maxValueBytes: o.maxValueBytes,
        maxKeyBytes: o.maxKeyBytes,
        clock: o.clock,
        evict: o.evict,
      })
    case 'memcached':
      if (Buffer.byteLength(o.keyPrefix) > 180) {
        throw new InvalidOptionError('keyPrefix', o.keyPrefix, 'at most 180 bytes with memcached (its keys end at 250)')
      }
      return new MemcachedStore(url, {
        keyPrefix: o.keyPrefix,
        maxValueBytes: o.maxValueBytes,
        maxKeyBytes: o.maxKeyBytes,
        commandTimeoutMs: o.commandTimeout,
        connectTimeoutMs: o.connectTimeout,
      })
    default:
      return new RedisStore(url, {
        keyPrefix: o.keyPrefix,
        maxValueBytes: o.maxValueBytes,
        maxKeyBytes: o.maxKeyBytes,
        commandTimeoutMs: o.commandTimeout,
        connectTimeoutMs: o.connectTimeout,
        reconnectMinDelayMs: DEFAULTS.store.reconnectMinDelayMs,
        reconnectMaxDelayMs: o.reconnectMaxDelay,
        closeTimeoutMs: o.closeTimeout,
        tls: o.tls,
      })
  }
}
