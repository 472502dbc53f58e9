import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Cache, createCache, createStore, type Store } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'

describe('lease renewal through a store hiccup', () => {
  let redis: RedisServer
  const opened: Array<Cache | Store> = []
  before(async () => {
    redis = await RedisServer.start()
  })
  after(async () => {
    for (const item of opened.reverse()) await item.close()
    await redis.stop()
  })
  const open = (commandTimeout: number) => {
    const store = createStore({ url: redis.url, commandTimeout, keyPrefix: 'renew:' })
    const cache = createCache({ store, lease: { ttl: '600ms' } })
    opened.push(store, cache)
    return cache
  }

  it('one renewal that times out does not give the lease up: the other instance still waits, one load in all', async () => {
    // The leader's commands time out quickly; the follower's outlast the pause.
    const a = open(100)
    const b = open(5_000)
    let leading = false
    let finish: (value: string) => void = () => {}
    const leader = a.getOrSet('k', () => {
      leading = true
      return new Promise<string>((resolve) => (finish = resolve))
    })
    await waitFor('the leader to load', async () => leading)
    // 300 ms of silence: at least one renewal (every 200 ms) times out on the leader's side.
    await redis.cli('CLIENT', 'PAUSE', '300', 'ALL')
    let calls = 0
    const follower = b.getOrSetEntry('k', async () => (calls++, 'duplicated'))
    // Three lease lifetimes: without renewals after the failed one, b would have taken over.
    await new Promise((resolve) => setTimeout(resolve, 1_800))
    finish('once')
    assert.equal(await leader, 'once')
    const second = await follower
    assert.deepEqual([second.value, second.status, calls], ['once', 'coalesced', 0])
  })
})
