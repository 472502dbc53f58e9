import { createClient, createCluster, createSentinel, RESP_TYPES } from '@redis/client'
import type { StoreUrl } from '../url.js'

/**
 * The slice of node-redis that the store uses, common to the standalone, cluster and sentinel
 * clients. Typed here once so the store does not drag node-redis' (very large) generic types along.
 */
export interface RedisClientLike {
  readonly isReady: boolean
  readonly isOpen: boolean
  connect(): Promise<unknown>
  close(): Promise<void>
  destroy(): void
  on(event: string, listener: (...args: never[]) => void): unknown
  get(key: string): Promise<Buffer | string | null>
  set(key: string, value: Buffer | string, options?: object): Promise<string | null>
  del(keys: string | string[]): Promise<number>
  pExpire(key: string, ms: number): Promise<number>
  pTTL(key: string): Promise<number>
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  publish(channel: string, message: string): Promise<number>
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  withTypeMapping(mapping: object): RedisClientLike
  duplicate?(): RedisClientLike
}

export interface RedisConnectOptions {
  connectTimeoutMs: number
  reconnectMinDelayMs: number
  reconnectMaxDelayMs: number
  /** TLS options passed to `tls.connect` for rediss:// (ca, cert, key, servername, ...). */
  tls?: Record<string, unknown>
}

/** Creates (without connecting) the node-redis client that fits the URL's kind. */
export function createRedisClient(url: StoreUrl, options: RedisConnectOptions): RedisClientLike {
  const socket = {
    connectTimeout: options.connectTimeoutMs,
    reconnectStrategy: backoff(options.reconnectMinDelayMs, options.reconnectMaxDelayMs),
    ...(url.tls ? { tls: true, ...options.tls } : {}),
  }
  const auth = { username: url.username, password: url.password }
  // No offline queue: a command sent while disconnected fails at once instead of waiting, unbounded,
  // for a server that may not come back. Callers (limiter fallback, cache miss) handle the failure.
  const common = { ...auth, disableOfflineQueue: true, RESP: 3 as const }
  // The store times commands itself (CommandDeadlines); node-redis' timeout would only cover the
  // time until a command is written, and costs an AbortSignal timer per command.
  const commandOptions = { timeout: undefined }
  const [first] = url.hosts
  if (url.kind === 'redis-cluster') {
    return createCluster({
      rootNodes: url.hosts.map(({ host, port }) => ({ socket: { host, port } })),
      defaults: { ...common, socket },
      commandOptions,
    }) as unknown as RedisClientLike
  }
  if (url.kind === 'redis-sentinel') {
    const sentinelPassword = url.params.get('sentinelPassword') ?? undefined
    return createSentinel({
      name: url.masterName as string,
      sentinelRootNodes: url.hosts,
      nodeClientOptions: { ...common, database: url.database, socket },
      sentinelClientOptions: { password: sentinelPassword, socket: { connectTimeout: options.connectTimeoutMs } },
      commandOptions,
    }) as unknown as RedisClientLike
  }
  const standalone = { ...common, database: url.database, socket: { ...socket, ...first }, commandOptions }
  return createClient(standalone as Parameters<typeof createClient>[0]) as unknown as RedisClientLike
}

/** A view of the client whose bulk-string replies are Buffers: values are bytes, not UTF-8 text. */
export function binaryView(client: RedisClientLike): RedisClientLike {
  return client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
}

/**
 * Exponential reconnect delay with jitter, capped: a restarted Redis is found again within about
 * `max` ms, and many instances reconnecting at once don't arrive in lockstep.
 */
export function backoff(min: number, max: number): (retries: number) => number {
  return (retries) => Math.min(max, min * 2 ** Math.min(retries, 16)) + Math.floor(Math.random() * min)
}
