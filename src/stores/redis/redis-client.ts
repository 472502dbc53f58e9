import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { backoff } from '../../core/backoff.js'
import type { StoreUrl } from '../url.js'

export type RedisClient = Redis | Cluster

export interface RedisConnectOptions {
  connectTimeoutMs: number
  reconnectMinDelayMs: number
  reconnectMaxDelayMs: number
  /** TLS options passed to `tls.connect` for rediss:// (ca, cert, key, servername, ...). */
  tls?: Record<string, unknown>
}

/**
 * Creates (without connecting) the ioredis client that fits the URL's kind.
 *
 * ioredis rather than node-redis: measured on the same machine and Redis at 64 calls in flight,
 * EVALSHA runs at 89k/s through ioredis and 51k/s through node-redis (docs/benchmarks.md), and the
 * limiter's throughput target is out of reach of the latter.
 */
export function createRedisClient(url: StoreUrl, options: RedisConnectOptions): RedisClient {
  const retryStrategy = backoff(options.reconnectMinDelayMs, options.reconnectMaxDelayMs)
  const readonly = readonlyReconnect()
  const common: RedisOptions = {
    username: url.username,
    password: url.password,
    db: url.database ?? 0,
    connectTimeout: options.connectTimeoutMs,
    // No offline queue: a command sent while disconnected fails at once instead of waiting, unbounded,
    // for a server that may not come back. Callers (limiter fallback, cache miss) handle the failure.
    enableOfflineQueue: false,
    // A command whose connection broke is failed, never replayed after reconnecting: a replayed
    // rate-limit decision could count twice.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // No auto-pipelining: measured on the limiter's EVALSHA path at 64 in flight it fell from 59k
    // to 37k calls/s (ioredis wraps each tick's commands in a Pipeline), and on cache L2 hits it was
    // within run-to-run noise.
    retryStrategy,
    // A node demoted to a replica (a failover behind a managed endpoint or an old Sentinel master)
    // answers every write with READONLY for as long as the connection lasts: reconnecting is what
    // reaches the new primary (through DNS, or by asking Sentinel again). 1, not 2: the failed
    // command is never resent, for the same reason as maxRetriesPerRequest.
    reconnectOnError: readonly.reconnect,
    ...(url.tls ? { tls: { ...options.tls } } : {}),
  }
  if (url.kind === 'redis-cluster') {
    // ioredis sets the node connections' offline queue and reconnects itself (it rediscovers slots
    // instead); the Cluster-level queue is what stays off, and the store's deadline bounds the rest.
    // A demoted Cluster node answers MOVED, which the Cluster client follows: no READONLY reconnect.
    const { enableOfflineQueue: _queue, retryStrategy: _retry, reconnectOnError: _readonly, ...nodeOptions } = common
    return new Cluster(url.hosts, {
      redisOptions: nodeOptions,
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      maxRedirections: 16,
    })
  }
  if (url.kind === 'redis-sentinel') {
    return readonly.watch(new Redis({
      ...common,
      lazyConnect: true,
      sentinels: url.hosts,
      name: url.masterName,
      sentinelPassword: url.params.get('sentinelPassword') ?? undefined,
      sentinelRetryStrategy: retryStrategy,
      // No failoverDetector: with it on, a client whose master was killed stayed disconnected for
      // good in 2 of 3 runs of the gateway's Sentinel suite (Node 24; ioredis' detector disconnects
      // a connection that is already reconnecting). A lost connection or the first READONLY of the
      // demoted master is what moves the client, as measured in docs/production.md.
    }))
  }
  const [first] = url.hosts
  return readonly.watch(new Redis({ ...common, lazyConnect: true, host: first?.host, port: first?.port }))
}

/**
 * Reconnects on the first READONLY of a connection only: every command in flight on it answers
 * READONLY, and ioredis would start one disconnect (and one socket listener) per reply.
 */
function readonlyReconnect(): { reconnect: (error: Error) => 1 | false; watch: (client: Redis) => Redis } {
  let reconnecting = false
  return {
    reconnect: (error) => {
      if (reconnecting || !error.message.startsWith('READONLY')) return false
      reconnecting = true
      return 1
    },
    watch: (client) =>
      client.on('ready', () => {
        reconnecting = false
      }),
  }
}
