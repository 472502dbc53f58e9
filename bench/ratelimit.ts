// npm run bench:ratelimit — tollgate's limiter against rate-limiter-flexible on one private Redis,
// the redis-benchmark EVALSHA ceiling, the memory stores, and failover times. Writes its tables to
// docs/benchmarks.md. A benchmark, not a test: figures vary with the machine and its load.
import { execFileSync } from 'node:child_process'
import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible'
import { type Algorithm, createRateLimiter, createStore } from '../src/index.js'
import { RedisServer } from '../test/harness/redis-server.js'
import { type Contender, compare, type LoadResult } from './lib/load.js'
import { machine, table, writeSection } from './lib/report.js'

const TOTAL = Number(process.env.BENCH_CALLS ?? 200_000)
const CONCURRENCY = 64
const KEYS = 1_000
const ALGORITHMS: Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket']
const key = (i: number) => `user:${i % KEYS}`
const HUGE = 1e9 // every call allowed: the benchmark measures the decision, not refusals

async function redisThroughput(server: RedisServer): Promise<LoadResult[]> {
  const store = createStore({ url: server.url, commandTimeout: '2s' })
  const nodeRedis = createClient({ url: server.url })
  const ioredis = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
  const contenders: Contender[] = ALGORITHMS.map((algorithm) => ({
    name: `tollgate ${algorithm}`,
    open: async () => {
      const limiter = createRateLimiter({ store, algorithm, limit: HUGE, window: '1m', namespace: algorithm, logger: false })
      return (i) => limiter.consume(key(i))
    },
  }))
  contenders.push(
    {
      name: 'rate-limiter-flexible (node-redis)',
      open: async () => {
        await nodeRedis.connect()
        const rlf = new RateLimiterRedis({ storeClient: nodeRedis, useRedisPackage: true, points: HUGE, duration: 60, keyPrefix: 'rlf-nr' })
        return (i) => rlf.consume(key(i))
      },
      close: () => nodeRedis.close(),
    },
    {
      name: 'rate-limiter-flexible (ioredis)',
      open: async () => {
        await ioredis.connect()
        const rlf = new RateLimiterRedis({ storeClient: ioredis, points: HUGE, duration: 60, keyPrefix: 'rlf-io' })
        return (i) => rlf.consume(key(i))
      },
      close: async () => ioredis.disconnect(),
    },
  )
  const results = await compare(contenders, TOTAL, CONCURRENCY)
  await store.close()
  const sha = await server.cli('SCRIPT', 'LOAD', 'return 1')
  const ceilings = [1, 2, 3].map(() => {
    const csv = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port), '-n', String(TOTAL), '-c', String(CONCURRENCY), '-r', String(KEYS), '--csv', 'EVALSHA', sha, '1', 'key:__rand_int__']).toString()
    const fields = (csv.trim().split('\n').pop() as string).split(',').map((f) => f.replace(/"/g, ''))
    return { name: 'redis-benchmark EVALSHA (ceiling)', opsPerSec: Number(fields[1]), p50Ms: Number(fields[4]), p99Ms: Number(fields[6]) }
  })
  results.push(ceilings.sort((a, b) => a.opsPerSec - b.opsPerSec)[1] as LoadResult)
  return results
}

async function memoryThroughput(): Promise<LoadResult[]> {
  const contenders: Contender[] = ALGORITHMS.map((algorithm) => ({
    name: `tollgate memory ${algorithm}`,
    open: async () => {
      const limiter = createRateLimiter({ algorithm, limit: HUGE, window: '1m', logger: false })
      return (i) => limiter.consume(key(i))
    },
  }))
  contenders.push({
    name: 'RateLimiterMemory',
    open: async () => {
      const rlf = new RateLimiterMemory({ points: HUGE, duration: 60 })
      return (i) => rlf.consume(key(i))
    },
  })
  return compare(contenders, TOTAL, CONCURRENCY)
}

/** Times from a fault to the first fallback decision, and from recovery back to the store. */
async function failover(server: RedisServer): Promise<string[]> {
  const store = createStore({ url: server.url })
  const limiter = createRateLimiter({ store, limit: HUGE, window: '1m', logger: false, namespace: 'failover' })
  const until = async (source: 'store' | 'fallback', from: number) => {
    for (;;) {
      const decision = await limiter.consume('probe')
      if (decision.source === source) return performance.now() - from
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  }
  const rows: string[] = []
  for (let round = 1; round <= 3; round++) {
    await until('store', performance.now())
    let t = performance.now()
    await server.kill9()
    const toFallback = await until('fallback', t)
    await new Promise((resolve) => setTimeout(resolve, 500))
    await server.restart()
    t = performance.now()
    const back = await until('store', t)
    rows.push(`| kill -9, round ${round} | ${toFallback.toFixed(1)} | ${back.toFixed(0)} |`)
  }
  for (let round = 1; round <= 3; round++) {
    const t = performance.now()
    server.pause()
    const toFallback = await until('fallback', t)
    await new Promise((resolve) => setTimeout(resolve, 500))
    server.resume()
    const back = await until('store', performance.now())
    rows.push(`| SIGSTOP, round ${round} | ${toFallback.toFixed(1)} | ${back.toFixed(0)} |`)
  }
  await limiter.close()
  await store.close()
  return rows
}

const server = await RedisServer.start()
try {
  const where = machine()
  console.log(`rate limiter benchmark: ${where}; ${TOTAL} calls, concurrency ${CONCURRENCY}, ${KEYS} keys`)
  const redis = await redisThroughput(server)
  console.log(table(redis, 'rate-limiter-flexible (node-redis)'))
  const memory = await memoryThroughput()
  console.log(table(memory, 'RateLimiterMemory'))
  const faults = await failover(server)
  const faultTable = ['| fault | to first fallback decision (ms) | recovery to first store decision (ms) |', '| --- | ---: | ---: |', ...faults].join('\n')
  console.log(faultTable)
  writeSection(
    'bench:ratelimit',
    [
      `### Rate limiter (\`npm run bench:ratelimit\`)`,
      '',
      `${where}. ${TOTAL.toLocaleString('en-US')} \`consume\` calls per run, ${CONCURRENCY} in flight, over ${KEYS} keys, all allowed; one private redis-server on loopback shared by every row; three interleaved rounds, median round shown.`,
      '',
      '**Redis**',
      '',
      table(redis, 'rate-limiter-flexible (node-redis)'),
      '',
      '**Memory store**',
      '',
      table(memory, 'RateLimiterMemory'),
      '',
      '**Failover** (default store options: 100 ms command timeout, reconnect backoff capped at 2 s; circuit probe every 1 s)',
      '',
      faultTable,
    ].join('\n'),
  )
} finally {
  await server.stop()
}
