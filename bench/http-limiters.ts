// npm run bench:http — tollgate/fastify against @fastify/rate-limit and tollgate/express against
// express-rate-limit + rate-limit-redis, all counting on one private Redis, each server in a process
// of its own, loaded with autocannon from this one. Writes its table to docs/benchmarks.md.
import { type ChildProcess, spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { RedisServer } from '../test/harness/redis-server.js'
import { machine, writeSection } from './lib/report.js'

const CONNECTIONS = 32
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8)
const USERS = 1_000
/** Every request allowed: what the limiter costs a request that goes through. */
const HUGE = 1_000_000_000

type Framework = 'fastify' | 'express'
type Limiter = 'none' | 'tollgate' | 'reference'
type Mode = 'allowed' | 'refused'

interface Row {
  name: string
  mode: Mode
  reqPerSec: number
  p50Ms: number
  p99Ms: number
}

/** The server side, run in a child: one app, one limiter, printing its URL once it listens. */
async function serve(framework: Framework, limiter: Limiter, mode: Mode, redisUrl: string): Promise<void> {
  const limit = mode === 'allowed' ? HUGE : 1
  const userOf = (headers: Record<string, string | string[] | undefined>) => String(headers['x-user-id'])
  const { Redis } = await import('ioredis')
  const { createStore } = await import('../src/index.js')
  if (framework === 'fastify') {
    const Fastify = (await import('fastify')).default
    const app = Fastify({ logger: false })
    if (limiter === 'tollgate') {
      const { tollgatePlugin } = await import('../src/integrations/fastify/index.js')
      await app.register(tollgatePlugin, { store: createStore({ url: redisUrl }), limit, window: '1h', keyGenerator: (request) => userOf(request.headers) })
    } else if (limiter === 'reference') {
      // Loaded by a computed name: its types declare config.rateLimit too, and cannot share a program with tollgate's.
      const name = '@fastify/rate-limit'
      const plugin = (await import(name)).default
      await app.register(plugin, { redis: new Redis(redisUrl), max: limit, timeWindow: '1h', keyGenerator: (request: { headers: Record<string, string> }) => userOf(request.headers) })
    }
    app.get('/', async () => 'ok')
    await app.listen({ port: 0, host: '127.0.0.1' })
    console.log(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`)
    return
  }
  const express = (await import('express')).default
  const app = express()
  if (limiter === 'tollgate') {
    const { rateLimit } = await import('../src/integrations/express/index.js')
    app.use(rateLimit({ store: createStore({ url: redisUrl }), limit, windowMs: '1h', keyGenerator: (req) => userOf(req.headers) }))
  } else if (limiter === 'reference') {
    const { rateLimit } = await import('express-rate-limit')
    const { RedisStore } = await import('rate-limit-redis')
    const client = new Redis(redisUrl)
    const store = new RedisStore({ sendCommand: (command: string, ...args: string[]) => client.call(command, ...args) as never })
    app.use(rateLimit({ store, limit, windowMs: 3_600_000, keyGenerator: (req) => userOf(req.headers) }))
  }
  app.get('/', (_req, res) => {
    res.send('ok')
  })
  const server = app.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
}

const children: ChildProcess[] = []
function start(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`server ${args.join(' ')} exited with ${code}`)))
  })
}

async function load(name: string, url: string, mode: Mode, duration = DURATION_S): Promise<Row> {
  let n = 0
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    requests: [{ method: 'GET', path: '/', setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'x-user-id': `user-${n++ % USERS}` } }) }],
  })
  const wrong = mode === 'allowed' ? result.non2xx : result['2xx'] > USERS ? result['2xx'] - USERS : 0
  if (wrong > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return { name, mode, reqPerSec: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99 }
}

const TARGETS: Array<[Framework, Limiter, string]> = [
  ['fastify', 'none', 'Fastify, no limiter'],
  ['fastify', 'tollgate', 'Fastify + tollgate/fastify'],
  ['fastify', 'reference', 'Fastify + @fastify/rate-limit (ioredis)'],
  ['express', 'none', 'Express 5, no limiter'],
  ['express', 'tollgate', 'Express 5 + tollgate/express'],
  ['express', 'reference', 'Express 5 + express-rate-limit + rate-limit-redis (ioredis)'],
]

async function main(): Promise<void> {
  const redis = await RedisServer.start()
  try {
    const rows: Row[] = []
    for (const mode of ['allowed', 'refused'] as const) {
      for (const [framework, limiter, name] of TARGETS) {
        if (limiter === 'none' && mode === 'refused') continue
        await redis.cli('FLUSHALL')
        const url = await start([framework, limiter, mode, redis.url])
        // A second of warm-up (JIT, connections to Redis), not counted.
        await load(name, url, mode, 1)
        rows.push(await load(name, url, mode))
        children.pop()?.kill('SIGKILL')
        console.log(rows.at(-1))
      }
    }
    const table = [
      '| | requests | req/s | p50 ms | p99 ms |',
      '| --- | --- | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.name} | ${r.mode === 'allowed' ? 'all allowed' : 'over the limit (429)'} | ${Math.round(r.reqPerSec).toLocaleString('en-US')} | ${r.p50Ms} | ${r.p99Ms} |`),
    ].join('\n')
    const rate = (name: string, mode: Mode) => rows.find((r) => r.name === name && r.mode === mode)?.reqPerSec ?? NaN
    const ratio = (a: string, b: string, mode: Mode) => (rate(a, mode) / rate(b, mode)).toFixed(2)
    const [fTollgate, fReference, eTollgate, eReference] = [1, 2, 4, 5].map((i) => (TARGETS[i] as [Framework, Limiter, string])[2]) as [string, string, string, string]
    const summary = [
      `- allowed requests: tollgate/fastify ${ratio(fTollgate, fReference, 'allowed')}× @fastify/rate-limit, tollgate/express ${ratio(eTollgate, eReference, 'allowed')}× express-rate-limit`,
      `- refused requests: tollgate/fastify ${ratio(fTollgate, fReference, 'refused')}× @fastify/rate-limit, tollgate/express ${ratio(eTollgate, eReference, 'refused')}× express-rate-limit`,
    ].join('\n')
    console.log(table)
    console.log(summary)
    writeSection(
      'bench:http',
      [
        '### Fastify and Express limiters (`npm run bench:http`)',
        '',
        `${machine()}. One private Redis for every row (flushed between rows); each server is its own process on loopback, answering \`GET /\` with \`ok\`, keyed by an \`x-user-id\` header cycling over ${USERS.toLocaleString('en-US')} users. tollgate: its default sliding window (one Lua script per decision, time from Redis), draft-8 headers; @fastify/rate-limit 10 (fixed window, \`redis: ioredis\`) and express-rate-limit 8 with rate-limit-redis 4 (fixed window, ioredis \`call\`), each with its own default headers. "All allowed": a limit of 10^9 an hour. "Over the limit": 1 an hour, so all but the first request of each user are refused. autocannon, ${CONNECTIONS} connections for ${DURATION_S} s after 1 s of warm-up (latencies in whole milliseconds).`,
        '',
        table,
        '',
        summary,
      ].join('\n'),
    )
  } finally {
    for (const child of children) child.kill('SIGKILL')
    await redis.stop()
  }
}

if (process.argv[2] === 'serve') await serve(process.argv[3] as Framework, process.argv[4] as Limiter, process.argv[5] as Mode, process.argv[6] as string)
else await main()
