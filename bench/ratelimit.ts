// npm run bench:ratelimit — tollgate's limiter against rate-limiter-flexible on one private Redis,
// the redis-benchmark EVALSHA ceiling, the memory stores, and failover times. Writes its tables to
// docs/benchmarks.md. A benchmark, not a test: figures vary with the machine and its load.
import { execFileSync } from 'node:child_process'
import { Cluster, Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible'
import { type Algorithm, createRateLimiter, createStore, type RateLimiter, type RateLimiterOptions, type RuleDecision, type Store } from '../src/index.js'
import { RedisCluster } from '../test/harness/redis-cluster.js'
import { RedisServer } from '../test/harness/redis-server.js'
import { type Contender, compare, type LoadResult } from './lib/load.js'
import { machine, table, writeSection } from './lib/report.js'

const TOTAL = Number(process.env.BENCH_CALLS ?? 200_000)
/**
 * The memory table's calls per round, and its rounds: at ~2.5M decisions a second a round of TOTAL
 * lasted 80 ms, short enough for one collector pause or scheduler hiccup to move a row by 20%.
 */
const MEMORY_TOTAL = 10 * TOTAL
const MEMORY_ROUNDS = 5
const CONCURRENCY = 64
const KEYS = 1_000
const ALGORITHMS: Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket']
const key = (i: number) => `user:${i % KEYS}`
const HUGE = 1e9 // every call allowed: the benchmark measures the decision, not refusals

/**
 * The rule of each row, every call allowed. The token bucket refills: at one token per 1,000 s no
 * token comes back during a run, so what it took can be read back exactly, as for the windows.
 */
function rule(algorithm: Algorithm): RateLimiterOptions {
  return algorithm === 'token-bucket' ? { algorithm, limit: 1e6, window: 1e12, burst: HUGE } : { algorithm, limit: HUGE, window: '1h' }
}
const THREE_RULES: RateLimiterOptions = {
  rules: [
    { name: 'requests', algorithm: 'sliding-window', limit: HUGE, window: '1h' },
    { name: 'tokens', algorithm: 'token-bucket', limit: 1e6, window: 1e12, burst: HUGE },
    { name: 'daily', algorithm: 'fixed-window', limit: HUGE, window: '1d' },
  ],
}

/** A contender whose calls are counted, and whose store must hold exactly that many when it ends. */
interface Counted extends Contender {
  issued: number
  held(): Promise<number>
}

function tollgate(name: string, store: Store, options: RateLimiterOptions, namespace: string): Counted {
  let limiter: RateLimiter
  const row: Counted = {
    name,
    issued: 0,
    open: async () => {
      limiter = createRateLimiter({ store, namespace, logger: false, ...options })
      return (i) => {
        row.issued++
        return limiter.consume(key(i))
      }
    },
    held: async () => {
      let taken = 0
      for (let k = 0; k < KEYS; k++) {
        const first = (await limiter.peek(key(k))).rules[0] as RuleDecision
        taken += first.limit - first.remaining
      }
      await limiter.close()
      return taken
    },
  }
  return row
}

function flexible(name: string, client: Redis | Cluster, prefix: string): Counted {
  let rlf: RateLimiterRedis
  const row: Counted = {
    name,
    issued: 0,
    open: async () => {
      rlf = new RateLimiterRedis({ storeClient: client, points: HUGE, duration: 3600, keyPrefix: prefix })
      return (i) => {
        row.issued++
        return rlf.consume(key(i))
      }
    },
    held: async () => {
      let taken = 0
      for (let k = 0; k < KEYS; k++) taken += (await rlf.get(key(k)))?.consumedPoints ?? 0
      return taken
    },
  }
  return row
}

/** Every row's store must hold exactly the calls it was sent: a fast limiter that loses counts is no limiter. */
async function checkCounts(rows: Counted[]): Promise<string> {
  const lines: string[] = []
  for (const row of rows) {
    const held = await row.held()
    if (held !== row.issued) throw new Error(`${row.name}: ${row.issued} calls sent, the store holds ${held}`)
    lines.push(`${row.name} ${held.toLocaleString('en-US')}`)
  }
  return `Counts read back from the store after the runs, each equal to the calls sent: ${lines.join('; ')}.`
}

async function redisThroughput(server: RedisServer): Promise<{ results: LoadResult[]; counts: string }> {
  const store = createStore({ url: server.url, commandTimeout: '2s' })
  const ioredis = new Redis({ port: server.port, host: '127.0.0.1' })
  const rows = ALGORITHMS.map((algorithm) => tollgate(`tollgate ${algorithm}`, store, rule(algorithm), algorithm))
  rows.push(tollgate('tollgate 3 rules (sliding + token bucket + daily)', store, THREE_RULES, 'three'))
  rows.push(flexible('rate-limiter-flexible (ioredis)', ioredis, 'rlf-io'))
  const results = await compare(rows, TOTAL, CONCURRENCY)
  const counts = await checkCounts(rows)
  await store.close()
  ioredis.disconnect()
  const sha = await server.cli('SCRIPT', 'LOAD', 'return 1')
  const ceilings = [1, 2, 3].map(() => {
    const csv = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port), '-n', String(TOTAL), '-c', String(CONCURRENCY), '-r', String(KEYS), '--csv', 'EVALSHA', sha, '1', 'key:__rand_int__']).toString()
    const fields = (csv.trim().split('\n').pop() as string).split(',').map((f) => f.replace(/"/g, ''))
    return { name: 'redis-benchmark EVALSHA, one call per decision (ceiling unbatched)', opsPerSec: Number(fields[1]), p50Ms: Number(fields[4]), p99Ms: Number(fields[6]) }
  })
  results.push(ceilings.sort((a, b) => a.opsPerSec - b.opsPerSec)[1] as LoadResult)
  return { results, counts }
}

async function clusterThroughput(): Promise<{ results: LoadResult[]; counts: string }> {
  const cluster = await RedisCluster.start()
  try {
    const store = createStore({ url: cluster.url, commandTimeout: '2s' })
    const client = new Cluster(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })))
    const rows = ALGORITHMS.map((algorithm) => tollgate(`tollgate ${algorithm}`, store, rule(algorithm), algorithm))
    rows.push(flexible('rate-limiter-flexible (ioredis Cluster)', client, 'rlf-cluster'))
    const results = await compare(rows, TOTAL, CONCURRENCY)
    const counts = await checkCounts(rows)
    await store.close()
    client.disconnect()
    return { results, counts }
  } finally {
    await cluster.stop()
  }
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
  return compare(contenders, MEMORY_TOTAL, CONCURRENCY, MEMORY_ROUNDS)
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

// BENCH_PARTS=redis,cluster (any of redis, cluster, memory, failover) runs only those, printing, not writing.
const parts = new Set((process.env.BENCH_PARTS ?? 'redis,cluster,memory,failover').split(','))
const every = parts.size === 4
const server = await RedisServer.start()
try {
  const where = machine()
  console.log(`rate limiter benchmark: ${where}; ${TOTAL} calls, concurrency ${CONCURRENCY}, ${KEYS} keys`)
  const FLEXIBLE = 'rate-limiter-flexible (ioredis)'
  const redis = parts.has('redis') ? await redisThroughput(server) : undefined
  if (redis) console.log(`${table(redis.results, FLEXIBLE)}\n${redis.counts}`)
  const cluster = parts.has('cluster') ? await clusterThroughput() : undefined
  if (cluster) console.log(`${table(cluster.results, 'rate-limiter-flexible (ioredis Cluster)')}\n${cluster.counts}`)
  const memory = parts.has('memory') ? await memoryThroughput() : undefined
  if (memory) console.log(table(memory, 'RateLimiterMemory'))
  const faults = parts.has('failover') ? await failover(server) : []
  const faultTable = ['| fault | to first fallback decision (ms) | recovery to first store decision (ms) |', '| --- | ---: | ---: |', ...faults].join('\n')
  if (faults.length > 0) console.log(faultTable)
  if (every && redis && cluster && memory) {
    writeSection(
      'bench:ratelimit',
      [
        `### Rate limiter (\`npm run bench:ratelimit\`)`,
        '',
        `${where}. ${TOTAL.toLocaleString('en-US')} \`consume\` calls per run, ${CONCURRENCY} in flight, over ${KEYS} keys, all allowed; three interleaved rounds, median round shown. tollgate batches the decisions of one tick into script calls (two of half each from 16 decisions; default \`batchSize\` 128 rule states a call).`,
        '',
        '**Redis standalone** (one private redis-server on loopback shared by every row)',
        '',
        table(redis.results, FLEXIBLE),
        '',
        redis.counts,
        '',
        '**Redis Cluster** (3 private masters on loopback, no replicas)',
        '',
        table(cluster.results, 'rate-limiter-flexible (ioredis Cluster)'),
        '',
        cluster.counts,
        '',
        `**Memory store** (${MEMORY_TOTAL.toLocaleString('en-US')} calls per round, ${MEMORY_ROUNDS} interleaved rounds, median shown)`,
        '',
        table(memory, 'RateLimiterMemory'),
        '',
        '**Failover** (default store options: 100 ms command timeout, reconnect backoff capped at 2 s; circuit probe every 1 s)',
        '',
        faultTable,
      ].join('\n'),
    )
  }
} finally {
  await server.stop()
}
