import type { TypedEmitter } from '../core/events.js'

/** What a kind of store can do, so a capability can refuse a backend up front instead of doing less. */
export interface StoreCapabilities {
  /** Runs capability scripts atomically (Lua on Redis, their TypeScript twins on memory). */
  readonly scripts: boolean
  /** Publish/subscribe between instances (Redis) or within the process (memory). */
  readonly pubsub: boolean
  /** Can report a key's remaining time to live. */
  readonly ttlRead: boolean
  /** Several instances share the data (false for memory: it lives in one process). */
  readonly shared: boolean
  /** Keys touched by one script must share a hash slot (wrap the shared part in `{...}`). */
  readonly hashSlots: boolean
}

export type StoreKind = 'memory' | 'redis' | 'redis-cluster' | 'redis-sentinel' | 'memcached'

export interface SetOptions {
  /** Time to live in milliseconds. Omitted: the value lives until deleted or evicted. */
  ttlMs?: number
  /** Write only if the key does not exist; `set` then returns false when it did. */
  ifNotExists?: boolean
}

/**
 * A script a capability runs atomically on the store. The same logic exists twice: `lua` for Redis
 * (time taken from the server with `redis.call('TIME')`) and `memory`, the pure TypeScript reference
 * used by the memory store. Both receive the same keys and arguments and must return the same reply.
 */
export interface StoreScript<R = unknown> {
  /** Name for errors and metrics. */
  readonly name: string
  /** Lua source, executed with EVALSHA and reloaded on NOSCRIPT. */
  readonly lua: string
  /** SHA-1 of `lua`, the name EVALSHA knows it by. */
  readonly sha: string
  /** The TypeScript twin: runs synchronously, which is what makes it atomic on the memory store. */
  readonly memory: (ctx: MemoryScriptContext, keys: string[], args: string[]) => R
  /**
   * The same script for one Cluster node and keys of any of its slots (Redis 7 `allow-cross-slot-keys`),
   * taking its keys as arguments; see {@link crossSlotVariant}. Only scripts that have one can be
   * run with `runScriptOnNode`.
   */
  readonly crossSlot?: { readonly lua: string; readonly sha: string }
}

/** What a memory-store script sees: the store's entries under already-prefixed keys, and the clock. */
export interface MemoryScriptContext {
  /** Milliseconds since the epoch, from the store's clock (the memory twin of Redis `TIME`). */
  now(): number
  get(key: string): unknown
  set(key: string, value: unknown, ttlMs?: number): void
  delete(key: string): void
  /** Remaining time to live in ms; -1 without expiry, -2 for a missing key (as Redis PTTL). */
  pttl(key: string): number
}

export interface StoreEvents extends Record<string, unknown> {
  /** The connection is (again) usable. */
  ready: { store: string }
  /** The connection was lost; commands fail fast until `ready`. */
  disconnect: { store: string; error?: Error }
  /**
   * The subscriber connection is back and every channel it had is subscribed again (the server
   * acknowledged): messages published from now on arrive. Not emitted for the first subscription.
   */
  resubscribed: { store: string }
  /** The subscriber connection was lost: messages published until `resubscribed` are not seen. */
  'subscriber-lost': { store: string }
  /**
   * A command settled (Redis stores; emitted only while someone listens): its operation (`get`,
   * `script rate-limit`, ...), its time, and its typed error if it failed or timed out.
   */
  command: { store: string; operation: string; seconds: number; error?: Error }
  /** A connection-level error (commands report their own errors through their promises). */
  error: { store: string; error: Error }
}

/**
 * The data layer every capability stands on: only what they need. Values are bytes (Buffer) or text;
 * serialization belongs to the capability (JSON by default), never an executable format.
 */
export interface Store {
  readonly kind: StoreKind
  /** A name safe for logs: the URL without credentials. */
  readonly name: string
  readonly capabilities: StoreCapabilities
  readonly keyPrefix: string
  readonly events: TypedEmitter<StoreEvents>

  get(key: string): Promise<Buffer | null>
  /** Several values in one round trip where the backend can (MGET); in the order of `keys`. */
  getMany(keys: string[]): Promise<Array<Buffer | null>>
  /** Returns false only when `ifNotExists` is set and the key already existed. */
  set(key: string, value: Buffer | string, options?: SetOptions): Promise<boolean>
  /** Deletes keys; returns how many existed (memcached: how many it deleted). */
  delete(...keys: string[]): Promise<number>
  /**
   * Atomically adds `by` (an integer) and returns the new value. A new counter starts at 0 and gets
   * `ttlMs`; an existing counter keeps its expiry, so a window cannot be extended by traffic.
   */
  increment(key: string, by?: number, options?: { ttlMs?: number }): Promise<number>
  /** Sets a new time to live on an existing key; false when the key does not exist. */
  expire(key: string, ttlMs: number): Promise<boolean>
  /** Remaining time to live in ms, -1 without expiry, -2 when missing. Needs `capabilities.ttlRead`. */
  pttl(key: string): Promise<number>
  /** Runs a script atomically. Needs `capabilities.scripts`. Keys are given unprefixed. */
  runScript<R>(script: StoreScript<R>, keys: string[], args: Array<string | number>): Promise<R>
  /**
   * Cluster only: the master that serves `key`'s slot now (`host:port`), or undefined before the
   * slots are known. Keys of one node can go to {@link runScriptOnNode} together.
   */
  nodeOf?(key: string): string | undefined
  /**
   * Cluster only: runs `script.crossSlot` on `node` over keys of any of the slots it serves. A key
   * not (or no longer) served there fails it with `E_STORE_COMMAND` where the script touches it.
   */
  runScriptOnNode?<R>(script: StoreScript<R>, node: string, keys: string[], args: Array<string | number>): Promise<R>
  /** Needs `capabilities.pubsub`. */
  publish(channel: string, message: string): Promise<void>
  /** Needs `capabilities.pubsub`. Resolves once subscribed, with a function that unsubscribes. */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>
  /**
   * What the server says of itself, in Redis' `INFO` terms (`maxmemory`, `maxmemory_policy`,
   * `used_memory`, `connected_clients`, `keyspace_hits`, `db0`, ...): how an operator tells whether it
   * may evict keys, and how full and busy it is.
   */
  serverInfo(): Promise<Record<string, string>>
  /** Round trip in ms; throws when the store cannot be reached. */
  ping(): Promise<number>
  /** Closes connections and timers; later calls fail with `E_STORE_CLOSED`. Idempotent. */
  close(): Promise<void>
}
