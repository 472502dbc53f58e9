import { MemcachedServer } from '../harness/memcached-server.js'
import { storeSuite } from './store-suite.js'

storeSuite('memcached', async () => {
  const server = await MemcachedServer.start()
  return { url: server.url, stop: () => server.stop() }
})
