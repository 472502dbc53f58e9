import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { run } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { startGateway } from './helpers.js'

/** The keys on a server, but /readyz's own probe (`readyz:probe`, 10 s). */
const keysOf = async (server: RedisServer) =>
  (await run('redis-cli', ['-p', String(server.port), '--scan'])).split('\n').filter((key) => key && key !== 'readyz:probe')

describe('limits survive cache churn', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream.close())

  it('on the embedded default, 70 MB of cached replies never evict a rate-limit counter', async () => {
    const gw = await startGateway(upstream.url, {
      auth: 'keys',
      keys: [
        { name: 'limited', hash: hashKey('key-limited'), tenant: 'acme', limits: { requests: { limit: 3, window: '1h' } } },
        { name: 'filler', hash: hashKey('key-filler'), tenant: 'bulk' },
      ],
    })
    try {
      const ask = async (key: string, content: string) => {
        const response = await gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }, { authorization: `Bearer ${key}` })
        await response.arrayBuffer()
        return response.status
      }
      for (let i = 0; i < 3; i++) assert.equal(await ask('key-limited', `limited ${i}`), 200)
      for (let i = 0; i < 80; i++) assert.equal(await ask('key-filler', `filler ${i} [big:900000]`), 200)
      assert.equal(await ask('key-limited', 'limited again'), 429, 'the counter is still there')
      assert.ok(gw.gateway.cache.stats().l1.bytes <= 64 * 1024 * 1024, 'the cache stayed within its own budget')
    } finally {
      await gw.close()
    }
  })

  describe('on Redis', () => {
    let main: RedisServer
    let limits: RedisServer
    let evicting: RedisServer
    before(async () => {
      ;[main, limits, evicting] = await Promise.all([RedisServer.start(), RedisServer.start(), RedisServer.start({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] })])
    })
    after(async () => {
      await Promise.all([main.stop(), limits.stop(), evicting.stop()])
    })

    it('limits.store puts limit counters on a store of their own, apart from the cache', async () => {
      const gw = await startGateway(upstream.url, { store: { url: main.url }, limits: { store: { url: limits.url }, requests: { limit: 2, window: '1m' } } })
      try {
        const statuses: number[] = []
        for (let i = 0; i < 3; i++) {
          const response = await gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `apart ${i}` }] })
          await response.text()
          statuses.push(response.status)
        }
        assert.deepEqual(statuses, [200, 200, 429])
        const [onMain, onLimits] = await Promise.all([keysOf(main), keysOf(limits)])
        assert.ok(onMain.length > 0 && onMain.every((key) => key.startsWith('c:')), `only cache entries on the main store: ${onMain.join(' ')}`)
        assert.ok(onLimits.length > 0 && onLimits.every((key) => !key.startsWith('c:')), `only limit counters on the limits store: ${onLimits.join(' ')}`)
        assert.deepEqual(gw.gateway.warnings, [])
        const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { status: string; checks: Record<string, string>; warnings: string[] }
        assert.deepEqual(ready, { status: 'ready', checks: { store: 'ok', limitsStore: 'ok' }, warnings: [] })
      } finally {
        await gw.close()
      }
    })

    it('a Redis out of memory under noeviction costs no request a 500: the limits fall back, the cache misses', async () => {
      const gw = await startGateway(upstream.url, { store: { url: main.url }, limits: { requests: { limit: 1_000, window: '1m' }, tokens: { limit: 10_000_000, window: '1m' } } })
      await main.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
      await main.cli('CONFIG', 'SET', 'maxmemory', '1')
      try {
        for (let i = 0; i < 10; i++) {
          const response = await gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `oom ${i % 3}` }], ...(i % 2 ? { stream: true } : {}) })
          await response.text()
          assert.equal(response.status, 200, `request ${i}`)
        }
        const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { status: string; checks: Record<string, string> }
        assert.deepEqual(ready, { ...ready, status: 'degraded', checks: { limits: 'fallback', store: 'E_STORE_COMMAND (OOM)' } }, 'a ping alone would say ok')
        assert.doesNotMatch(JSON.stringify(ready), /127\.0\.0\.1|redis:/)
      } finally {
        await main.cli('CONFIG', 'SET', 'maxmemory', '0')
        await gw.close()
      }
    })

    it('/readyz says degraded while the limits are on their fallback, even when the store answers pings and writes (an ACL without EVALSHA)', async () => {
      await main.cli('ACL', 'SETUSER', 'noscripts', 'on', '>secret', '~*', '&*', '+@all', '-evalsha', '-eval')
      const gw = await startGateway(upstream.url, { store: { url: `redis://noscripts:secret@127.0.0.1:${main.port}` }, limits: { requests: { limit: 1_000, window: '1m' } } })
      try {
        const response = await gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'no scripts' }] })
        assert.equal(response.status, 200)
        await response.text()
        const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { status: string; checks: Record<string, string> }
        assert.deepEqual([ready.status, ready.checks], ['degraded', { limits: 'fallback', store: 'ok' }])
      } finally {
        await gw.close()
        await main.cli('ACL', 'DELUSER', 'noscripts')
      }
    })

    it('warns at start and in /readyz when the limits store may evict them', async () => {
      const gw = await startGateway(upstream.url, { store: { url: evicting.url }, limits: { requests: { limit: 2, window: '1m' } } })
      try {
        assert.equal(gw.gateway.warnings.length, 1)
        assert.match(gw.gateway.warnings[0]!, /may evict/)
        const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { status: string; warnings: string[] }
        assert.equal(ready.status, 'ready')
        assert.match(ready.warnings[0]!, /noeviction/)
        assert.doesNotMatch(JSON.stringify(ready), /127\.0\.0\.1|redis:/, 'no store URL in the unauthenticated probe')
      } finally {
        await gw.close()
      }
    })
  })
})
