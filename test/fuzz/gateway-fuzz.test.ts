import assert from 'node:assert/strict'
import { randomInt } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { RedisServer } from '../harness/redis-server.js'
import { Worker } from '../harness/worker.js'
import { Random } from './random.js'
import { type FuzzRequest, fuzzRequest } from './requests.js'
import { type FuzzOutcome, FuzzSender } from './send.js'

/** `npm test` sends 1,000; `npm run test:fuzz` sends 10,000 and kills Redis in the middle. */
const COUNT = Number(process.env.FUZZ_REQUESTS ?? 1_000)
const KILL_REDIS = process.env.FUZZ_REDIS_KILL === '1'
const SEED = Number(process.env.FUZZ_SEED ?? randomInt(2 ** 31))
const CONCURRENCY = 8
const MiB = 1024 * 1024
/** How much the gateway's RSS may grow over a run: far above its caches' budgets, far below a leak of what the run sent. */
const RSS_GROWTH_BOUND = 256 * MiB

const KEYS = ['key-a1', 'key-a2', 'key-b1']
const CONFIG = {
  server: { port: 0, shutdownTimeout: '3s', maxUpstreamReplyBytes: MiB },
  keys: [
    { name: 'a1', hash: hashKey('key-a1'), tenant: 'acme' },
    { name: 'a2', hash: hashKey('key-a2'), tenant: 'acme' },
    { name: 'b1', hash: hashKey('key-b1'), tenant: 'bravo' },
  ],
  cache: { sharedNamespaces: ['shared'] },
  limits: { requests: { limit: 1_000_000, window: '1m' }, tokens: { limit: 1_000_000_000, window: '1m' }, user: { requests: { limit: 100_000, window: '1m' } }, dailyBudgetUsd: 100_000 },
  passThrough: ['/v1/files*', '/v1/models/*'],
}

/** The codes of the 5xx answers the gateway gives for an upstream's fault, and the fake upstream's own error code. */
const UPSTREAM_FAULTS = new Set(['upstream_timeout', 'upstream_unreachable', 'upstream_invalid_reply', 'upstream_incomplete', 'upstream_aborted', 'upstream_reply_too_large', 'upstream_error_too_large', 'fake_failure'])

/** What is wrong with the outcome of `request`, or undefined. */
function problem(request: FuzzRequest, outcome: FuzzOutcome): string | undefined {
  if (outcome.error) return outcome.error
  for (const { status, body } of outcome.responses) {
    if (request.raw) {
      if (status >= 500) return `answered ${status}`
      continue
    }
    let code: unknown
    let message: unknown
    try {
      const error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error
      code = error?.code
      message = error?.message
    } catch {
      // Not JSON: judged below.
    }
    if (status >= 500 && !UPSTREAM_FAULTS.has(String(code))) return `answered ${status}: ${body.slice(0, 300)}`
    if (status >= 400 && request.method !== 'HEAD' && typeof message !== 'string') return `answered ${status} without an OpenAI-shaped error: ${body.slice(0, 300)}`
  }
  return undefined
}

describe('fuzz: generated hostile requests against a gateway on Redis', () => {
  let redis: RedisServer
  let upstream: FakeUpstream
  let gateway: Worker
  let sender: FuzzSender

  before(async () => {
    redis = await RedisServer.start()
    upstream = await startFakeUpstream()
    gateway = await Worker.start('gateway-worker.js', [upstream.url, redis.url, JSON.stringify({ ...CONFIG, upstreams: [{ name: 'fake', baseUrl: upstream.url, timeout: '2s', maxRetries: 1 }] })])
    sender = new FuzzSender((gateway.first as { url: string }).url)
  })

  after(async () => {
    await sender.close()
    await gateway.stop()
    await upstream.close()
    await redis.stop()
  })

  it(`${COUNT} requests: every one answered, no 5xx of the gateway's own, the process up, RSS bounded${KILL_REDIS ? ', Redis killed midway' : ''}`, async (t) => {
    t.diagnostic(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} FUZZ_REQUESTS=${COUNT})`)
    const random = new Random(SEED)
    const rssStart = await gateway.send<number>({ op: 'rss' })
    const failures: string[] = []
    const counts = new Map<string, number>()
    let next = 0
    const worker = async () => {
      for (;;) {
        const index = next++
        if (index >= COUNT) return
        if (KILL_REDIS && index === Math.floor(COUNT * 0.4)) await redis.kill9()
        if (KILL_REDIS && index === Math.floor(COUNT * 0.7)) await redis.restart()
        // Generated in order whatever the concurrency: the seed alone decides the requests.
        const request = fuzzRequest(random, KEYS)
        const outcome = await sender.send(request)
        for (const { status } of outcome.responses) counts.set(String(status), (counts.get(String(status)) ?? 0) + 1)
        if (outcome.unsent) counts.set('unsent', (counts.get('unsent') ?? 0) + 1)
        const found = problem(request, outcome)
        if (found && failures.length < 20) failures.push(`#${index} ${request.label}: ${found}`)
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    assert.equal(gateway.exit, null, 'the gateway process is still up')
    const rssEnd = await gateway.send<number>({ op: 'rss' })
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...counts].sort()))}`)
    t.diagnostic(`gateway RSS: ${Math.round(rssStart / MiB)} MiB at the start, ${Math.round(rssEnd / MiB)} MiB at the end`)
    assert.deepEqual(failures, [], `seed ${SEED}`)
    assert.ok(rssEnd - rssStart < RSS_GROWTH_BOUND, `RSS grew by ${Math.round((rssEnd - rssStart) / MiB)} MiB (seed ${SEED})`)
  })
})
