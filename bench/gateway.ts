// npm run bench:gateway — the fake upstream direct, two floors (a bare Node proxy, a bare Fastify
// route), tollgate (cache off: the miss path; cache hits with the access log on, sampled and off, with
// limits, on Redis) and the Portkey gateway (pass-through), each its own process, loaded with
// autocannon from this one in interleaved rounds. Writes its table to docs/benchmarks.md.
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { Pool } from 'undici'
import { freePort } from '../test/harness/processes.js'
import { RedisServer } from '../test/harness/redis-server.js'
import { machine, writeSection } from './lib/report.js'

const CONNECTIONS = 32
/** Each target is loaded in ROUNDS slices of SLICE_S seconds, the targets taking turns: a machine whose speed drifts (shared cores) moves every row alike instead of one. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SLICE_S = Number(process.env.BENCH_SECONDS ?? 5)
const PROBES = 2_000
const BODY = JSON.stringify({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is a cache?' }] })
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const PORTKEY = fileURLToPath(new URL('../../bench/node_modules/@portkey-ai/gateway/build/start-server.js', import.meta.url))

interface Target {
  name: string
  url: string
  headers: Record<string, string>
}

interface Row {
  name: string
  /** The median slice's. */
  reqPerSec: number
  lowest: number
  highest: number
  p50Ms: number
  p99Ms: number
  probeP50Ms: number
  probeP99Ms: number
}

const children: ChildProcess[] = []
function start(args: string[], env: NodeJS.ProcessEnv = {}, stdout: 'pipe' | number = 'pipe'): ChildProcess {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', stdout, 'inherit'] })
  children.push(child)
  return child
}

/** The first capture of `pattern` in the child's output; the rest of the output keeps being drained. */
function firstMatch(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let found = false
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      const match = found ? null : pattern.exec(line)
      if (match) {
        found = true
        resolve(match[1] as string)
      }
    })
    lines.on('close', () => found || reject(new Error('process ended before it was ready')))
  })
}

/**
 * A gateway whose stdout (its access log) goes to a file, as a log collector would take it: read
 * through a pipe into this process, the lines would cost the load generator's core.
 */
async function tollgate(dir: string, name: string, config: string): Promise<string> {
  const file = join(dir, `${name}.yaml`)
  const log = join(dir, `${name}.log`)
  writeFileSync(file, config)
  const out = openSync(log, 'w')
  const child = start([CLI, 'start', '--config', file, '--port', '0'], {}, out)
  closeSync(out)
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    const match = /listening on (http:\/\/[^"\s]+)/.exec(readFileSync(log, 'utf8'))
    if (match) return match[1] as string
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${name}: the gateway did not start (${log})`)
}

async function portkey(): Promise<string> {
  const port = await freePort()
  start([PORTKEY, `--port=${port}`, '--headless'], { NODE_ENV: 'production' })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then(() => true, () => false)) return url
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('Portkey did not start')
}

/** Requests per target in a block of the probe, and blocks per target: the targets take turns block by block. */
const BLOCK = 500
const WARM_UP = 50
/**
 * Untimed requests each target answers on its connection before the probe: a freshly started gateway
 * runs its code unoptimised for its first thousand or so calls (measured: the p50 of a probe of 2,000
 * from cold was 0.01–0.07 ms above one of 4,000), which is V8 warming up, not what a running gateway adds.
 */
const WARM_REQUESTS = 2_000

/**
 * Sequential requests on one connection: latency without queueing, to the microsecond. Each target
 * gets blocks of BLOCK requests in turn (the first WARM_UP of a block are not counted): a process
 * answering requests one after another is warm, as a gateway serving one client is, and the blocks
 * spread each target over the whole probe, so a drifting machine moves every row alike.
 */
async function probe(targets: Target[]): Promise<Array<{ p50: number; p99: number }>> {
  const pools = targets.map((target) => new Pool(new URL(target.url).origin, { connections: 1 }))
  const times: number[][] = targets.map(() => [])
  for (const [t, target] of targets.entries()) {
    const path = new URL(target.url).pathname
    for (let i = 0; i < WARM_REQUESTS; i++) {
      const response = await (pools[t] as Pool).request({ path, method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body: BODY })
      await response.body.text()
    }
  }
  for (let block = 0; block < Math.ceil(PROBES / (BLOCK - WARM_UP)); block++) {
    for (const [t, target] of targets.entries()) {
      const path = new URL(target.url).pathname
      for (let i = 0; i < BLOCK; i++) {
        const started = performance.now()
        const response = await (pools[t] as Pool).request({ path, method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body: BODY })
        await response.body.text()
        if (response.statusCode !== 200) throw new Error(`${target.name}: HTTP ${response.statusCode}`)
        if (i >= WARM_UP) (times[t] as number[]).push(performance.now() - started)
      }
    }
  }
  await Promise.all(pools.map((pool) => pool.close()))
  return times.map((each) => {
    each.sort((a, b) => a - b)
    return { p50: each[Math.floor(each.length / 2)] as number, p99: each[Math.floor(each.length * 0.99)] as number }
  })
}

async function slice(target: Target): Promise<autocannon.Result> {
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SLICE_S,
    headers: { 'content-type': 'application/json', ...target.headers },
    body: BODY,
  })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.name}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return result
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

/** Every target in ROUNDS interleaved slices; each row holds the median slice's figures (by req/s) and the range. */
async function load(targets: Target[]): Promise<Row[]> {
  const latency = await probe(targets)
  const slices: autocannon.Result[][] = targets.map(() => [])
  for (let round = 0; round < ROUNDS; round++) {
    for (const [t, target] of targets.entries()) {
      ;(slices[t] as autocannon.Result[]).push(await slice(target))
      console.log(`round ${round + 1}: ${target.name}: ${Math.round((slices[t] as autocannon.Result[]).at(-1)!.requests.average)} req/s`)
    }
  }
  return targets.map((target, t) => {
    const results = slices[t] as autocannon.Result[]
    const rates = results.map((result) => result.requests.average)
    const middle = results.find((result) => result.requests.average === median(rates)) as autocannon.Result
    const { p50, p99 } = latency[t] as { p50: number; p99: number }
    return { name: target.name, reqPerSec: middle.requests.average, lowest: Math.min(...rates), highest: Math.max(...rates), p50Ms: middle.latency.p50, p99Ms: middle.latency.p99, probeP50Ms: p50, probeP99Ms: p99 }
  })
}

const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'))
const redis = await RedisServer.start()
try {
  const upstream = await firstMatch(start([fileURLToPath(new URL('./fake-upstream-server.js', import.meta.url))]), /^(http:\/\/\S+)$/)
  const server = (accessLog: string) => `server:\n  logLevel: warn\n  accessLog: ${accessLog}\n`
  const upstreams = `upstreams:\n  - name: fake\n    baseUrl: ${upstream}\n`
  const sampled = '{ sampleHits: 100 }'
  // Three rules every hit meets: its request counted, its token estimate charged and refunded, the day's budget read.
  const limits = 'limits:\n  requests: { limit: 1000000000, window: 1h }\n  tokens: { limit: 1000000000000, window: 1h }\n  dailyBudgetUsd: 1000000\n'
  const floor = (args: string[]) => firstMatch(start([fileURLToPath(new URL('./floor-servers.js', import.meta.url)), ...args]), /^(http:\/\/\S+)$/)
  // The bare Fastify route answers what a hit answers: the fake upstream's reply to this body.
  const replyFile = join(dir, 'reply.json')
  writeFileSync(replyFile, await (await fetch(`${upstream}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY })).text())
  const [proxyUrl, fastifyUrl, miss, hitLogAll, hitLogSampled, hitLogOff, hitLimits, hitRedis, portkeyUrl] = await Promise.all([
    floor(['proxy', `${upstream}/chat/completions`]),
    floor(['fastify', replyFile]),
    tollgate(dir, 'miss', `${server('true')}${upstreams}cache:\n  enabled: false\n`),
    tollgate(dir, 'hit-log-all', `${server('true')}${upstreams}`),
    tollgate(dir, 'hit-log-sampled', `${server(sampled)}${upstreams}`),
    tollgate(dir, 'hit-log-off', `${server('false')}${upstreams}`),
    tollgate(dir, 'hit-limits', `${server(sampled)}${upstreams}${limits}`),
    tollgate(dir, 'hit-redis', `${server(sampled)}${upstreams}store:\n  url: ${redis.url}\n`),
    portkey(),
  ])
  const path = '/v1/chat/completions'
  const targets: Target[] = [
    { name: 'fake upstream, direct', url: `${upstream}/chat/completions`, headers: {} },
    { name: 'floor: bare Node proxy (node:http + undici)', url: proxyUrl, headers: {} },
    { name: 'floor: bare Fastify route, fixed reply', url: `${fastifyUrl}${path}`, headers: {} },
    { name: 'tollgate, miss path (cache off)', url: `${miss}${path}`, headers: {} },
    { name: 'tollgate, hits (memory), access log: every request', url: `${hitLogAll}${path}`, headers: {} },
    { name: 'tollgate, hits (memory), access log: 1 hit in 100', url: `${hitLogSampled}${path}`, headers: {} },
    { name: 'tollgate, hits (memory), access log off', url: `${hitLogOff}${path}`, headers: {} },
    { name: 'tollgate, hits (memory), 1 in 100, 3 limit rules', url: `${hitLimits}${path}`, headers: {} },
    { name: 'tollgate, hits (Redis), 1 in 100', url: `${hitRedis}${path}`, headers: {} },
    { name: 'Portkey gateway 1.15.2, pass-through', url: `${portkeyUrl}${path}`, headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream, authorization: 'Bearer sk-fake' } },
  ]
  const rows = await load(targets)
  const where = machine()
  const direct = rows[0] as Row
  const thousands = (n: number) => Math.round(n).toLocaleString('en-US')
  const table = [
    `| | req/s (median of ${ROUNDS}) | lowest, highest | p50 ms | p99 ms | one connection, p50 ms | one connection, p99 ms |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.name} | ${thousands(r.reqPerSec)} | ${thousands(r.lowest)}, ${thousands(r.highest)} | ${r.p50Ms} | ${r.p99Ms} | ${r.probeP50Ms.toFixed(3)} | ${r.probeP99Ms.toFixed(3)} |`),
  ].join('\n')
  const [proxyRow, fastifyRow, missRow, logAll, logSampled, logOff, withLimits, redisRow, portkeyRow] = rows.slice(1) as [Row, Row, Row, Row, Row, Row, Row, Row, Row]
  const ratio = (row: Row, to: Row = direct) => `${(row.reqPerSec / to.reqPerSec).toFixed(2)}×`
  const over = (row: Row, to: Row = direct) => `${(row.probeP50Ms - to.probeP50Ms).toFixed(3)} ms`
  const summary = [
    `- memory-store hits vs the upstream direct: ${ratio(logAll)} logging every request, ${ratio(logSampled)} logging 1 hit in 100, ${ratio(logOff)} with the access log off (the bare Fastify route: ${ratio(fastifyRow)})`,
    `- Redis-store hits vs the upstream direct: ${ratio(redisRow)} (1 hit in 100 logged)`,
    `- 3 limit rules on memory-store hits: ${ratio(withLimits, logSampled)} of the same hits without limits`,
    `- p99 on hits at ${CONNECTIONS} connections: ${logAll.p99Ms} / ${logSampled.p99Ms} / ${logOff.p99Ms} ms (memory: every line / 1 in 100 / off), ${withLimits.p99Ms} ms (limits), ${redisRow.p99Ms} ms (Redis)`,
    `- miss-path overhead at p50 (one connection): ${over(missRow)} over direct; the bare Node proxy's ${over(proxyRow)}, so ${over(missRow, proxyRow)} is tollgate's own`,
    `- hits vs Portkey pass-through: ${ratio(logSampled, portkeyRow)} (memory), ${ratio(redisRow, portkeyRow)} (Redis)`,
  ].join('\n')
  console.log(table)
  console.log(summary)
  writeSection(
    'bench:gateway',
    [
      '### Gateway (`npm run bench:gateway`)',
      '',
      `${where}. Every server is its own process on loopback: the fake OpenAI-compatible upstream (answers at once); two floors, a bare forwarding proxy (node:http in, undici out, the JSON parsed both ways) and a bare Fastify route answering the upstream's reply to a parsed body; six tollgate gateways (\`tollgate start\` with a config, metrics on, stdout (the access log) to a file: cache off; cache hits over the memory store with the access log writing every request, 1 hit in 100 (\`sampleHits: 100\`) or off; the same with 3 limit rules every hit meets (requests, tokens, daily budget); hits over a private Redis) and the Portkey gateway 1.15.2 (open-source build, \`x-portkey-custom-host\` to the same upstream; its cache is not part of that build, so it is compared on pass-through). One chat completion body for every request. First, after ${WARM_REQUESTS.toLocaleString('en-US')} untimed requests to each (V8 warms a fresh process up), about ${PROBES.toLocaleString('en-US')} sequential requests to each on one connection, timed to the microsecond (latency without queueing), the targets taking turns in blocks of ${BLOCK} (the first ${WARM_UP} of each not counted); then autocannon from the benchmark process, ${CONNECTIONS} connections, in ${ROUNDS} rounds of ${SLICE_S} s slices with the targets taking turns, each row the median slice (its latencies are whole milliseconds) with the lowest and highest req/s: the machine's 2 cores are shared, and its speed drifts during a run.`,
      '',
      table,
      '',
      summary,
    ].join('\n'),
  )
} finally {
  for (const child of children) child.kill('SIGKILL')
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
}
