import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'
import { Worker } from '../harness/worker.js'

/** How long the steady load runs: short in `npm test`, 10 minutes in `npm run test:faults`. */
const SOAK_MS = Number(process.env.SOAK_SECONDS ?? 10) * 1000
const L1_MAX = 1024 * 1024
const MIB = 1024 * 1024
const KEYS = { open: 'sk-soak-open', limited: 'sk-soak-limited' }

interface Health {
  rss: number
  heapUsed: number
  resources: Record<string, number>
  l1: { entries: number; bytes: number }
}

/**
 * A steady mix for a long time: hits, misses, streams and 429s. What must not grow: the heap after
 * a full GC, the open sockets and timers once the load stops, and L1 beyond its byte bound.
 */
describe(`soak: ${SOAK_MS / 1000} s of steady mixed load`, () => {
  let redis: RedisServer
  let upstream: FakeUpstream
  let gateway: Worker
  before(async () => {
    ;[redis, upstream] = await Promise.all([RedisServer.start(), startFakeUpstream()])
    const config = {
      cache: { l1MaxBytes: L1_MAX },
      keys: [
        { name: 'open', tenant: 'acme', hash: hashKey(KEYS.open) },
        { name: 'limited', tenant: 'beta', hash: hashKey(KEYS.limited), limits: { requests: { limit: 20, window: '1s' } } },
      ],
    }
    gateway = await Worker.start('gateway-worker.js', [upstream.url, redis.url, JSON.stringify(config)])
  })
  after(async () => {
    await gateway?.stop()
    await Promise.all([redis?.stop(), upstream?.close()])
  })

  it('heap flat, no leaked sockets or timers, L1 within its bound; every request answered', async () => {
    const url = (gateway.first as { url: string }).url
    const statuses = new Map<number, number>()
    let n = 0
    let running = true
    const client = async (id: number) => {
      while (running) {
        const i = n++
        const key = id % 4 === 0 ? KEYS.limited : KEYS.open
        const stream = i % 3 === 2
        const content = i % 3 === 0 ? `repeat ${i % 50}` : `new ${i}`
        let status = 0
        try {
          const response = await fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
            body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content }] }),
            signal: AbortSignal.timeout(60_000),
          })
          await response.arrayBuffer()
          status = response.status
        } catch {}
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        // A steady rate, not a flood: each client paces itself.
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
    const health = () => gateway.send<Health>({ op: 'health' })
    const load = Promise.all(Array.from({ length: 8 }, (_, id) => client(id)))
    await waitFor('a warmed-up gateway', async () => n > 500, 30_000)
    const start = await health()
    const startedAt = Date.now()
    let peakL1 = 0
    while (Date.now() - startedAt < SOAK_MS) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, SOAK_MS)))
      peakL1 = Math.max(peakL1, (await health()).l1.bytes)
    }
    const end = await health()
    running = false
    await load

    const total = [...statuses.values()].reduce((a, b) => a + b, 0)
    assert.equal(statuses.get(0) ?? 0, 0, 'every request answered')
    assert.deepEqual([...statuses.keys()].sort(), [200, 429], `statuses: ${JSON.stringify([...statuses])}`)
    assert.ok(peakL1 <= L1_MAX, `L1 ${peakL1} bytes within ${L1_MAX}`)
    assert.ok(end.heapUsed - start.heapUsed < 16 * MIB, `heap after GC ${(start.heapUsed / MIB).toFixed(1)} -> ${(end.heapUsed / MIB).toFixed(1)} MiB`)
    // Idle again: the sockets and timers left are the pools', not one per request served.
    let idle = end
    await waitFor('the gateway to settle', async () => {
      idle = await health()
      return (idle.resources.TCPSocketWrap ?? 0) <= (start.resources.TCPSocketWrap ?? 0) + 8 && (idle.resources.Timeout ?? 0) <= (start.resources.Timeout ?? 0) + 8
    }, 30_000).catch(() => assert.fail(`handles grew: ${JSON.stringify(start.resources)} -> ${JSON.stringify(idle.resources)}`))
    console.log(
      `# soak ${SOAK_MS / 1000} s: ${total} requests (${statuses.get(200)} answered, ${statuses.get(429) ?? 0} limited); ` +
        `RSS ${(start.rss / MIB).toFixed(1)} -> ${(end.rss / MIB).toFixed(1)} MiB, heap after GC ${(start.heapUsed / MIB).toFixed(1)} -> ${(end.heapUsed / MIB).toFixed(1)} MiB; ` +
        `L1 peak ${(peakL1 / MIB).toFixed(2)} of ${L1_MAX / MIB} MiB; handles ${JSON.stringify(start.resources)} -> ${JSON.stringify(idle.resources)}`,
    )
  })
})
