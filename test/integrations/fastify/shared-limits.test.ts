import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { createStore, type Store } from '../../../src/index.js'
import { tollgatePlugin } from '../../../src/integrations/fastify/index.js'
import { RedisServer } from '../../harness/redis-server.js'
import { app, serve } from './helpers.js'

let redis: RedisServer
before(async () => {
  redis = await RedisServer.start()
})
after(() => redis.stop())

it('two Fastify instances sharing one Redis admit exactly the limit together', async () => {
  const stores: Store[] = [createStore({ url: redis.url }), createStore({ url: redis.url })]
  const instances = stores.map(() => app())
  try {
    const urls: string[] = []
    for (const [i, instance] of instances.entries()) {
      await instance.register(tollgatePlugin, { store: stores[i], limit: 25, window: '1m', keyGenerator: (request) => String(request.headers['x-user-id']) })
      instance.get('/', async () => 'ok')
      urls.push(await serve(instance))
    }
    // 80 requests at once, alternating between the instances, all from one user.
    const codes = await Promise.all(
      Array.from({ length: 80 }, async (_, i) => {
        const response = await fetch(urls[i % 2] as string, { headers: { 'x-user-id': 'shared' } })
        await response.arrayBuffer()
        return response.status
      }),
    )
    assert.equal(codes.filter((code) => code === 200).length, 25)
    assert.equal(codes.filter((code) => code === 429).length, 55)
    const other = await fetch(urls[1] as string, { headers: { 'x-user-id': 'someone-else' } })
    assert.equal(other.status, 200)
  } finally {
    await Promise.all(instances.map((instance) => instance.close()))
    await Promise.all(stores.map((store) => store.close()))
  }
})
