import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createCache, createStore } from '../../src/index.js'
import { freePort } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'

/** `promise`, or a rejection naming `what` after 10 s: a close that hangs fails instead. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within 10 s`)), 10_000).unref())])
}

describe('closing a Redis store', () => {
  let server: RedisServer
  before(async () => {
    server = await RedisServer.start()
  })
  after(() => server.stop())

  it('returns when Redis was never reachable, its subscriber included (a SIGTERM is not held up)', async () => {
    const store = createStore({ url: `redis://127.0.0.1:${await freePort()}`, connectTimeout: '200ms' })
    // A cache on it subscribes to the invalidation bus: the subscriber connection never becomes ready.
    const cache = createCache({ store })
    await within(cache.ready(), 'the bus to give up its first try')
    await within(cache.close(), 'the cache to close')
    await within(store.close(), 'the store to close')
  })

  it('lets commands in flight have their replies instead of rejecting them at once', async () => {
    const store = createStore({ url: server.url })
    await store.ping()
    const writes = Array.from({ length: 200 }, (_, i) => store.set(`close:${i}`, 'v', { ttlMs: 60_000 }))
    await within(store.close(), 'the store to close')
    const results = await Promise.allSettled(writes)
    assert.deepEqual(
      results.filter((result) => result.status === 'rejected').map((result) => String((result as PromiseRejectedResult).reason)),
      [],
      'every write sent before close() was answered',
    )
  })

  it('a cache on a paused Redis closes without waiting out a command timeout (its unsubscribe is not awaited)', async () => {
    // A command timeout longer than the hang bound: a close that waited for it would fail here.
    const store = createStore({ url: server.url, commandTimeout: '30s', closeTimeout: '200ms' })
    const cache = createCache({ store })
    await cache.ready()
    server.pause()
    try {
      await within(cache.close(), 'the cache to close')
      await within(store.close(), 'the store to close')
    } finally {
      server.resume()
    }
  })
})
