import { RedisSentinel } from '../harness/redis-sentinel.js'
import { storeSuite } from './store-suite.js'

storeSuite('redis sentinel', async () => {
  const sentinel = await RedisSentinel.start()
  return { url: sentinel.url, stop: () => sentinel.stop() }
})
