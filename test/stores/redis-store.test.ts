import { RedisServer } from '../harness/redis-server.js'
import { storeSuite } from './store-suite.js'

storeSuite('redis standalone', async () => {
  const server = await RedisServer.start()
  return { url: server.url, stop: () => server.stop() }
})

storeSuite('valkey:// alias', async () => {
  const server = await RedisServer.start()
  return { url: `valkey://127.0.0.1:${server.port}/2`, stop: () => server.stop() }
})
