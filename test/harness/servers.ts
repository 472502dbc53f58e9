import { MemcachedServer } from './memcached-server.js'
import { RedisCluster } from './redis-cluster.js'
import { RedisServer } from './redis-server.js'

/** What a capability suite needs of a running backend. */
export interface TestServer {
  url: string
  stop(): Promise<void>
}

/** A named way to start a private backend, for suites that run once per backend. */
export interface ServerKind {
  name: string
  start(): Promise<TestServer>
}

export const REDIS: ServerKind = { name: 'redis', start: () => RedisServer.start() }
export const REDIS_CLUSTER: ServerKind = { name: 'redis cluster', start: () => RedisCluster.start() }
export const MEMCACHED: ServerKind = { name: 'memcached', start: () => MemcachedServer.start() }
