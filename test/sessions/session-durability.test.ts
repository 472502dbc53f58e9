import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSessionStore, createStore } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'

describe('session durability', () => {
  let redis: RedisServer
  before(async () => {
    redis = await RedisServer.start({ aof: true })
  })
  after(() => redis.stop())

  it('with AOF on, sessions survive a kill -9 and restart of Redis, TTL included', async () => {
    const store = createStore({ url: redis.url })
    const sessions = createSessionStore<{ cart: string[] }>({ store, ttl: '1h', sliding: false })
    try {
      for (let i = 0; i < 20; i++) await sessions.set(`user-${i}`, { cart: [`item-${i}`] })
      await sessions.update('user-0', (s) => ({ cart: [...(s?.cart ?? []), 'updated'] }))
      await redis.kill9()
      await redis.restart()
      await waitFor('the store to reconnect', async () => store.ping().then(() => true, () => false), 10_000)
      assert.deepEqual(await sessions.get('user-0'), { cart: ['item-0', 'updated'] })
      for (let i = 1; i < 20; i++) assert.deepEqual(await sessions.get(`user-${i}`), { cart: [`item-${i}`] })
      const ttl = await store.pttl('sess:user-5')
      assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `TTL kept: ${ttl}`)
    } finally {
      await sessions.close()
      await store.close()
    }
  })
})
