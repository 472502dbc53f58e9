import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { type Cache, createCache, createStore, type Store } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisCluster } from '../harness/redis-cluster.js'
import { RedisServer } from '../harness/redis-server.js'

/** Two instances' caches on one Redis: `a` is the one under test, `b` invalidates. */
describe('invalidation bus: recovery and health', () => {
  const opened: Array<Cache | Store> = []
  const servers: RedisServer[] = []
  const clusters: RedisCluster[] = []
  after(async () => {
    for (const item of opened.reverse()) await item.close()
    for (const server of servers) await server.stop()
    for (const cluster of clusters) await cluster.stop()
  })
  const open = (url: string, options: Parameters<typeof createCache>[0] = {}) => {
    const store = createStore({ url, connectTimeout: '300ms', reconnectMaxDelay: '200ms' })
    const cache = createCache({ store, ...options })
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

  it('a resubscription the server refuses (an ACL change took the channel away) is retried until it is allowed again', async () => {
    const redis = await RedisServer.start()
    servers.push(redis)
    await redis.cli('ACL', 'SETUSER', 'bus', 'on', '>secret', '~*', '&*', '+@all')
    const url = `redis://bus:secret@127.0.0.1:${redis.port}`
    const a = open(url)
    const b = open(url)
    await Promise.all([a.ready(), b.ready()])
    const lost = new Promise<void>((resolve) => a.store.events.once('subscriber-lost', () => resolve()))
    // Taking channel rights away drops the user's subscribers; their resubscriptions get NOPERM.
    await redis.cli('ACL', 'SETUSER', 'bus', 'resetchannels')
    await lost
    assert.equal(bus(a), 'down')
    // Both subscribers back and refused (NOPERM): the permission returns only after that.
    await waitFor('the refused resubscriptions', async () => {
      const refused = (await redis.cli('CLIENT', 'LIST')).split('\n').filter((line) => line.includes('user=bus') && line.includes('cmd=subscribe') && line.includes(' sub=0 '))
      return refused.length >= 2
    }, 10_000)
    await redis.cli('ACL', 'SETUSER', 'bus', '&*')
    await waitFor('the bus to be healthy again', async () => bus(a) === 'healthy' && bus(b) === 'healthy', 10_000)
    await deleteSeenBy(a, b, 'after-acl')
  })

  it('a read from L2 racing a delete from another instance never puts the deleted value back in L1', async () => {
    const redis = await RedisServer.start()
    servers.push(redis)
    // Compressed values: the read's inflate runs on the thread pool, which widens the race.
    const a = open(redis.url, { compression: true })
    const b = open(redis.url, { compression: true })
    await Promise.all([a.ready(), b.ready()])
    const value = { text: 'lorem ipsum dolor sit amet '.repeat(2000) }
    for (let round = 0; round < 200; round++) {
      const key = `race-${round}`
      await a.set(key, value, { l1: false })
      const seen = new Promise<void>((resolve) => {
        const off = b.events.on('invalidate', (event) => {
          if (event.keys?.includes(key)) {
            off()
            resolve()
          }
        })
      })
      // Interleavings, not synchronisation: the delete lands before, during or after b's read.
      const read = b.get(key)
      await new Promise((resolve) => setTimeout(resolve, round % 3))
      await Promise.all([read, a.delete(key)])
      await seen
      assert.equal(await b.get(key), undefined, `round ${round}: b serves a deleted value`)
    }
  })

  it('on a Cluster too: the subscriber killed on every node is down, then healthy once resubscribed, with L1 dropped', async () => {
    const cluster = await RedisCluster.start()
    clusters.push(cluster)
    const a = open(cluster.url)
    const b = open(cluster.url)
    await Promise.all([a.ready(), b.ready()])
    for (let round = 0; round < 3; round++) {
      await a.set(`before-${round}`, 'v')
      assert.equal(await a.get(`before-${round}`), 'v')
      const l1Hits = a.stats().hits.l1
      const lost = new Promise<void>((resolve) => a.store.events.once('subscriber-lost', () => resolve()))
      await Promise.all(cluster.nodes.map((node) => node.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')))
      await lost
      assert.equal(bus(a), 'down')
      await waitFor('the bus to be healthy again', async () => bus(a) === 'healthy' && bus(b) === 'healthy', 10_000)
      assert.equal(await a.get(`before-${round}`), 'v')
      assert.equal(a.stats().hits.l1, l1Hits, 'L1 was dropped on the resubscription')
      await deleteSeenBy(a, b, `after-${round}`)
    }
  })
})
