import { after, before } from 'node:test'
import { type Cache, type CacheOptions, createCache, createStore, type Store } from '../../src/index.js'
import { MEMCACHED, REDIS, REDIS_CLUSTER, type TestServer } from '../harness/servers.js'

/** One L2 configuration the cache suite runs on; `url` undefined = memory only (no L2). */
export interface CacheBackend {
  name: string
  start?: () => Promise<TestServer>
  /** L2 can announce invalidations (Redis pub/sub); without it markers refresh on their interval. */
  bus: boolean
}

export const CACHE_BACKENDS: CacheBackend[] = [
  { name: 'memory only', bus: false },
  { name: 'memory + redis', start: REDIS.start, bus: true },
  { name: 'memory + redis cluster', start: REDIS_CLUSTER.start, bus: true },
  { name: 'memory + memcached', start: MEMCACHED.start, bus: false },
]

/**
 * Starts the backend's server for the enclosing describe and hands out caches over it, each on a
 * store of its own (so each has its own connections, like separate instances) under a key prefix
 * shared by one `group`. Everything is closed after the describe.
 */
export function useCacheBackend(backend: CacheBackend) {
  let server: TestServer | undefined
  const opened: Array<Cache | Store> = []
  let groups = 0
  before(async () => {
    server = await backend.start?.()
  })
  after(async () => {
    for (const item of opened.reverse()) await item.close()
    await server?.stop()
  })
  return {
    get url() {
      return server?.url
    },
    /** A new key space: caches made from one group see the same L2 entries. */
    group() {
      const prefix = `g${groups++}:`
      /** A cache, with the store it stands on (undefined for memory only). */
      const open = (options: CacheOptions = {}): Cache & { store: Store | undefined } => {
        const store = server ? createStore({ url: server.url, keyPrefix: prefix, commandTimeout: '2s' }) : undefined
        const cache = createCache({ ...options, ...(store ? { store } : {}) })
        // Closed in reverse: each cache before its store.
        if (store) opened.push(store)
        opened.push(cache)
        return Object.assign(cache, { store })
      }
      return { open, prefix }
    },
  }
}
