import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Cache, createCache, createStore, type Store } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'

describe('L2 outage', () => {
  let redis: RedisServer
  const opened: Array<Cache | Store> = []
  const open = (options: Parameters<typeof createCache>[0] = {}) => {
    const store = createStore({ url: redis.url })
    const cache = createCache({ store, ...options })
    opened.push(store, cache)
    return { store, cache }
  }
  before(async () => {
    redis = await RedisServer.start()
  })
  after(async () => {
    for (const item of opened.reverse()) await item.close()
    await redis.stop()
  })

  it('with Redis killed, reads miss, loaders run, writes are counted, nothing throws; it recovers after a restart', async () => {
    const { cache } = open()
    await cache.ready()
    await cache.set('warm', 'in L1 and L2')
    await redis.kill9()
    assert.equal(await cache.get('warm'), 'in L1 and L2', 'L1 keeps answering')
    assert.equal(await cache.get('never-set', { l1: false }), undefined)
    let calls = 0
    for (let i = 0; i < 5; i++) assert.equal(await cache.getOrSet(`k${i}`, () => ++calls), i + 1)
    await cache.set('x', 'y')
    const down = cache.stats()
    assert.equal(calls, 5, 'every miss ran its loader')
    assert.ok(down.l2Errors >= 3, `l2 errors counted: ${down.l2Errors}`)
    assert.ok(down.l2WriteFailures >= 1)
    assert.equal(down.circuit, 'open')
    // While the circuit is open, L2 is not called at all: no more errors pile up.
    for (let i = 0; i < 20; i++) await cache.get(`cold${i}`, { l1: false })
    assert.equal(cache.stats().l2Errors, down.l2Errors)

    await redis.restart()
    await waitFor('the cache to write to L2 again', async () => {
      await cache.set('after', 'restart')
      return cache.stats().circuit === 'closed'
    }, 10_000)
    const { cache: other } = open()
    await waitFor('another instance to read what was written after the restart', async () => (await other.get('after')) === 'restart', 10_000)
  })

  it('a paused Redis costs one command timeout per read, then the circuit answers at once', async () => {
    const { cache } = open()
    await cache.set('k', 'v', { l1: false })
    redis.pause()
    try {
      assert.equal(await cache.getOrSet('k', () => 'loaded while paused', { l1: false }), 'loaded while paused')
      for (let i = 0; i < 3; i++) await cache.get(`p${i}`, { l1: false })
      assert.equal(cache.stats().circuit, 'open')
      // Open: reads are answered as misses without asking the paused store (no more timeouts).
      const errors = cache.stats().l2Errors
      for (let i = 0; i < 10; i++) assert.equal(await cache.get(`q${i}`, { l1: false }), undefined)
      assert.equal(cache.stats().l2Errors, errors)
    } finally {
      redis.resume()
    }
  })

  it('one failed batched read (one MGET for many waiters) is one failure, not one per waiter', async () => {
    const { cache } = open()
    await cache.set('warm', 'v', { l1: false })
    await waitFor('a closed circuit after the tests above', async () => {
      await cache.get('warm', { l1: false })
      return cache.stats().circuit === 'closed'
    }, 10_000)
    const errors = cache.stats().l2Errors
    redis.pause()
    try {
      // Twenty reads at once go out as one or two batched reads (how the ticks fall differs between
      // Node versions), each failing once: a failure per batch, not per waiter.
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.get(`batch${i}`, { l1: false })))
      assert.ok(values.every((value) => value === undefined))
      const counted = cache.stats().l2Errors - errors
      assert.ok(counted >= 1 && counted <= 2, `counted per batch, not per waiter: ${counted}`)
      assert.equal(cache.stats().circuit, 'closed', 'fewer failures than the threshold (3): the circuit stays closed')
    } finally {
      redis.resume()
    }
  })

  it('invalidations fail loudly while L2 is down (after applying locally)', async () => {
    const { cache } = open()
    await cache.set('k', 'v', { tags: ['t'] })
    await redis.kill9()
    try {
      await assert.rejects(cache.delete('k'), (err: { code: string }) => ['E_STORE_UNAVAILABLE', 'E_STORE_TIMEOUT'].includes(err.code))
      assert.equal(await cache.get('k'), undefined, 'the local L1 copy is gone anyway')
      await assert.rejects(cache.invalidateTags(['t']), { code: 'E_STORE_UNAVAILABLE' })
      await assert.rejects(cache.clearNamespace(), { code: 'E_STORE_UNAVAILABLE' })
    } finally {
      await redis.restart()
    }
  })

  it('after a reconnect, L1 is dropped: invalidations published meanwhile were lost', async () => {
    const { store, cache } = open()
    await cache.ready()
    await store.ping()
    await cache.set('k', 'v')
    assert.equal(cache.stats().l1.entries, 1)
    await redis.restart()
    await waitFor('the bus to come back', async () => cache.stats().bus === 'healthy' && cache.stats().l1.entries === 0, 10_000)
  })

  it('a cache created while Redis is down serves from L1 and uses L2 once it is up', async () => {
    await redis.kill9()
    const { cache } = open()
    assert.equal(await cache.getOrSet('k', () => 'local'), 'local')
    assert.equal(await cache.get('k'), 'local')
    await redis.restart()
    await waitFor('L2 to take writes', async () => {
      await cache.set('later', 1)
      return cache.stats().circuit === 'closed' && (await cache.get('later', { l1: false })) === 1
    }, 10_000)
  })
})
