import { MemcachedServer } from '../harness/memcached-server.js'
import { RedisCluster } from '../harness/redis-cluster.js'
import { RedisServer } from '../harness/redis-server.js'
import { limiterSuite } from './limiter-suite.js'

limiterSuite('memory', async () => ({ url: 'memory://', stop: async () => {} }))

limiterSuite('redis', async () => {
  const server = await RedisServer.start()
  return { url: server.url, redisPorts: [server.port], stop: () => server.stop() }
})

limiterSuite('redis cluster', async () => {
  const cluster = await RedisCluster.start()
  return { url: cluster.url, redisPorts: cluster.nodes.map((n) => n.port), stop: () => cluster.stop() }
})

limiterSuite('memcached (fixed window only)', async () => {
  const server = await MemcachedServer.start()
  return { url: server.url, stop: () => server.stop() }
})
