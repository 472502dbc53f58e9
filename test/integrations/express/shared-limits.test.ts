import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { createStore } from '../../../src/index.js'
import { rateLimit } from '../../../src/integrations/express/index.js'
import { RedisServer } from '../../harness/redis-server.js'
import { listen, versions } from './helpers.js'

let redis: RedisServer
before(async () => {
  redis = await RedisServer.start()
})
after(() => redis.stop())

it('an Express 5 and an Express 4 app sharing one Redis admit exactly the limit together', async () => {
  const stores = versions.map(() => createStore({ url: redis.url }))
  const middlewares = stores.map((store) => rateLimit({ store, limit: 30, windowMs: '1m', keyGenerator: (req) => String(req.headers['x-user-id']) }))
  const servers = await Promise.all(
    versions.map(([, express], i) => {
      const app = express()
      app.use(middlewares[i] as ReturnType<typeof rateLimit>)
      app.get('/', (_req, res) => res.send('ok'))
      return listen(app)
    }),
  )
  try {
    const codes = await Promise.all(
      Array.from({ length: 90 }, async (_, i) => {
        const response = await fetch((servers[i % 2] as { url: string }).url, { headers: { 'x-user-id': 'shared' } })
        await response.arrayBuffer()
        return response.status
      }),
    )
    assert.equal(codes.filter((code) => code === 200).length, 30)
    assert.equal(codes.filter((code) => code === 429).length, 60)
  } finally {
    await Promise.all(servers.map((server) => server.close()))
    await Promise.all(middlewares.map((middleware) => middleware.close()))
    await Promise.all(stores.map((store) => store.close()))
  }
})
