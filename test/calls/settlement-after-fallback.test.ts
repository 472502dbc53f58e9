import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CallLimits, createStore, type Store } from '../../src/index.js'
import { RedisServer } from '../harness/redis-server.js'

describe('settling a charge the fallback decided, once Redis answers again', () => {
  let redis: RedisServer
  let store: Store
  before(async () => {
    redis = await RedisServer.start()
    store = createStore({ url: redis.url })
  })
  after(async () => {
    await store.close()
    await redis.stop()
  })

  it('takes back no estimate Redis never counted: the key gets its limit, not more', async () => {
    const limits = new CallLimits({ tokens: { limit: 1000, window: 60_000 } }, [], store, 1, false)
    const caller = { key: 'k1', tenant: 'acme' }
    const grantAll = async () => {
      let granted = 0
      for (;;) {
        const charge = await limits.charge(caller, 'm', undefined, undefined, 50, 50)
        if (!charge?.decision.allowed) return granted
        granted += 100
      }
    }
    try {
      // Redis refuses writes for a moment: this 800-token estimate is counted by the fallback.
      await redis.cli('CONFIG', 'SET', 'maxmemory', '1', 'maxmemory-policy', 'noeviction')
      const during = await limits.charge(caller, 'm', undefined, undefined, 700, 100)
      assert.equal(during?.decision.source, 'fallback')
      await redis.cli('CONFIG', 'SET', 'maxmemory', '0')

      assert.equal(await grantAll(), 1000)
      // That call turns out to have cost nothing upstream (a cache hit, a failure): its estimate goes back.
      limits.settle(during!, null)
      await limits.settled()
      assert.equal(await grantAll(), 0, 'the window is still full on Redis')
    } finally {
      await limits.close()
    }
  })
})
