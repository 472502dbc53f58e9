import { RedisCluster } from '../harness/redis-cluster.js'
import { storeSuite } from './store-suite.js'

storeSuite('redis cluster (3 masters)', async () => {
  const cluster = await RedisCluster.start()
  return { url: cluster.url, stop: () => cluster.stop() }
})
