import { createRateLimiter, createStore } from '/work/main/build/src/index.js'
import { RedisServer } from '/work/main/build/test/harness/redis-server.js'
import { load } from '/work/main/build/bench/lib/load.js'
const server = await RedisServer.start()
const store = createStore({ url: server.url, commandTimeout: '2s' })
for (const algorithm of ['fixed-window', 'sliding-window', 'token-bucket']) {
  await server.cli('CONFIG', 'RESETSTAT')
  const limiter = createRateLimiter({ store, algorithm, limit: 1e9, window: '1m', logger: false, namespace: algorithm })
  const r = await load(algorithm, 100000, 64, (i) => limiter.consume('user:' + (i % 1000)))
  const stats = (await server.cli('INFO', 'commandstats')).split('\n').filter(l => /evalsha/.test(l)).map(l => l.replace(/.*usec_per_call=([0-9.]+).*/, '$1 us/call'))
  console.log(algorithm, Math.round(r.opsPerSec), stats.join(' '))
}
await store.close(); await server.stop()
