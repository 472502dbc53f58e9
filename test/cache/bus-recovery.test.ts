import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { type Cache, createCache, createStore, type Store } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'

/** Two instances' caches on one Redis: `a` is the one under test, `b` invalidates. */
describe('invalidation bus: recovery and health', () => {
  const opened: Array<Cache | Store> = []
  const servers: RedisServer[] = []
  after(async () => {
    for (const item of opened.reverse()) await item.close()
    for (const server of servers) await server.stop()
  })
  const open = (url: string) => {
    const store = createStore({ url, connectTimeout: '300ms', reconnectMaxDelay: '200ms' })
    const cache = createCache({ store })
    opened.push(store, cache)
    return Object.assign(cache, { store })
  }
  const bus = (cache: Cache) => cache.stats().bus
  /** b deletes `key`; a must stop answering it from L1 (only the bus can tell it). */
  const deleteSeenBy = async (a: Cache, b: Cache, key: string) => {
    await a.set(key, 'v')
    assert.equal(await a.get(key), 'v')
    const seen = new Promise<void>((resolve) =>
      a.events.on('invalidate', (event) => {
        if (event.remote && event.keys?.includes(key)) resolve()
      }),
    )
    await b.delete(key)
    await seen
    assert.equal(await a.get(key), undefined)
  }

  it('a cache created while Redis is down joins the bus once Redis is up, drops its L1, and sees deletes', async () => {
    const redis = await RedisServer.start()
    servers.push(redis)
    await redis.kill9()
    const a = open(redis.url)
    await a.ready()
    assert.equal(bus(a), 'down')
    await a.set('made-while-down', 'only in L1')
    assert.equal(await a.get('made-while-down'), 'only in L1')

    await redis.restart()
    await waitFor('the bus to subscribe after the failed start', async () => bus(a) === 'healthy', 20_000)
    // Deletes made by others while it was off the bus were never seen: its L1 cannot be trusted.
    assert.equal(await a.get('made-while-down'), undefined)
    const b = open(redis.url)
    await b.ready()
    await deleteSeenBy(a, b, 'shared')
  })

  it("health follows the subscriber's connection: a killed subscriber is 'down' until resubscribed, then L1 is dropped", async () => {
    const redis = await RedisServer.start()
    servers.push(redis)
    const a = open(redis.url)
    const b = open(redis.url)
    await Promise.all([a.ready(), b.ready()])
    assert.equal(bus(a), 'healthy')
    await a.set('before', 'v')
    assert.equal(await a.get('before'), 'v')
    const l1Hits = a.stats().hits.l1

    // Kills the subscriber connections only: the command connections stay up and healthy.
    const lost = new Promise<void>((resolve) => a.store.events.once('subscriber-lost', () => resolve()))
    await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')
    await lost
    assert.equal(bus(a), 'down', 'the bus is down as soon as its connection is lost')
    await waitFor('the bus to be healthy again', async () => bus(a) === 'healthy', 10_000)
    assert.equal(await a.get('before'), 'v', 'still in L2')
    assert.equal(a.stats().hits.l1, l1Hits, 'L1 was dropped on the reconnect: the read went to L2')
    // Healthy means resubscribed: a delete right now is seen.
    await deleteSeenBy(a, b, 'after-resubscribe')
  })
})
