import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRateLimiter, createStore, type RateLimiter, type Store } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'

/**
 * Probes from a hostile review of the shared key's expiry header (rate-limit.lua) and of the remote
 * decisions' outcomes (RemoteDecision, #outcomes): inputs an operator or a caller can bring.
 */
describe('review probes: shared keys and remote decisions on Redis', () => {
  let server: RedisServer
  let store: Store
  const limiters: RateLimiter[] = []
  const open = (options: Parameters<typeof createRateLimiter>[0]) => {
    const limiter = createRateLimiter({ store, logger: false, ...options })
    limiters.push(limiter)
    return limiter
  }

  before(async () => {
    server = await RedisServer.start()
    store = createStore({ url: server.url, commandTimeout: 200, reconnectMaxDelay: '100ms' })
  })
  after(async () => {
    await Promise.all(limiters.map((l) => l.close()))
    await store.close()
    await server.stop()
  })

  it('a shared key of many sliding windows (8 × 1000 buckets, within the options) is decided by Redis', async () => {
    // The key holds 8 × 1002 + 1 numbers: one struct.unpack / unpack() of them all overflows Lua's
    // C stack (8000 values, "too many results to unpack"), and every decision fell back.
    const rules = Array.from({ length: 8 }, (_, i) => ({ name: `s${i}`, algorithm: 'sliding-window' as const, limit: 100, window: '1m' as const, buckets: 1000 }))
    const limiter = open({ namespace: 'wide', rules })
    const errors: string[] = []
    limiter.events.on('store-error', ({ error }) => errors.push(String((error as Error & { cause?: Error }).cause?.message ?? error.message)))
    const first = await limiter.consume('alice')
    const second = await limiter.consume('alice', { cost: 3 })
    assert.deepEqual(errors, [])
    assert.deepEqual([first.source, second.source], ['store', 'store'])
    assert.deepEqual(
      second.rules.map((r) => r.remaining),
      rules.map(() => 96),
    )
    assert.equal((await limiter.peek('alice')).remaining, 96, 'the state read back from the key')
  })

  it('a shared key in the layout before the expiry header (same rules, no header) decides as no state and gets a bounded expiry', async () => {
    const limiter = open({
      namespace: 'legacy',
      rules: [
        { name: 'second', algorithm: 'fixed-window', limit: 100, window: '1s' },
        { name: 'minute', algorithm: 'sliding-window', limit: 5, window: '1m' },
        { name: 'burst', algorithm: 'token-bucket', limit: 10, window: '1m', burst: 4 },
      ],
    })
    const key = 'rl:legacy:{alice}:second:f+minute:s+burst:t'
    // The previous layout: fixed [index, count], sliding [k, 11 counts], token [TAT µs], no header;
    // the sliding window full (5 in its newest bucket) and the token bucket far in debt.
    const script = `local t = redis.call('TIME')
      local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      local us = ms * 1000
      local v = struct.pack('dd', math.floor(ms / 1000), 100) .. struct.pack('dddddddddddd', math.floor(ms * 10 / 60000), 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) .. struct.pack('d', us + 600000000)
      return redis.call('SET', KEYS[1], v, 'PX', 600000)`
    await server.cli('EVAL', script, '1', key)
    const decision = await limiter.consume('alice')
    assert.equal(decision.source, 'store')
    assert.equal(decision.allowed, true, 'the old bytes are no state')
    assert.deepEqual(
      decision.rules.map((r) => [r.name, r.remaining]),
      [
        ['second', 99],
        ['minute', 4],
        ['burst', 3],
      ],
    )
    const ttl = Number(await server.cli('PTTL', key))
    assert.ok(ttl > 50_000 && ttl <= 74_250, `ttl ${ttl}: the new write's own expiry, not the old 10 minutes`)
    assert.equal(Number(await server.cli('STRLEN', key)), 8 * (1 + 2 + 12 + 1))
  })

  it('a listener that throws for one caller rejects that call only: the batch\'s other callers get their decisions', async () => {
    const limiter = open({ namespace: 'listener', rules: [{ name: 'a', limit: 2, window: '1m' }, { name: 'b', algorithm: 'token-bucket', limit: 10, window: '1m' }] })
    limiter.events.on('allowed', ({ key }) => {
      if (key === 'bad') throw new Error('allowed listener')
    })
    limiter.events.on('blocked', ({ key }) => {
      if (key === 'bad') throw new Error('blocked listener')
    })
    const settled = await Promise.allSettled(['x', 'bad', 'y', 'bad', 'bad', 'x'].map((key) => limiter.consume(key)))
    assert.deepEqual(
      settled.map((s) => (s.status === 'fulfilled' ? s.value.allowed : (s.reason as Error).message)),
      [true, 'allowed listener', true, 'allowed listener', 'blocked listener', true],
    )
    const stats = limiter.stats()
    assert.deepEqual([stats.allowed, stats.blocked, stats.fallbackDecisions, stats.circuit], [5, 1, 0, 'closed'])
  })

  it('more identities than the identity cache holds (2 × 2048): every identity keeps its own count', async () => {
    const limiter = open({ namespace: 'churn', rules: [{ name: 'a', limit: 3, window: '1m' }, { name: 'b', algorithm: 'sliding-window', limit: 5, window: '1m' }] })
    const ids = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? `{brace}${i}` : i % 3 === 1 ? `u${i}` : `${'long'.repeat(50)}${i}`))
    for (let round = 0; round < 2; round++) {
      const decisions = await Promise.all(ids.map((id) => limiter.consume(id)))
      assert.ok(
        decisions.every((d) => d.source === 'store' && d.remaining === 2 - round),
        `round ${round}`,
      )
    }
    assert.equal((await limiter.consume(ids[0] as string)).remaining, 0)
    assert.equal((await limiter.consume(ids[0] as string)).allowed, false)
  })

  it('a store-error listener that throws during the half-open probe does not leave the circuit half-open for ever', async () => {
    const limiter = open({ namespace: 'probe', limit: 100, window: '1m', circuitBreaker: { failureThreshold: 1, probeInterval: '100ms' } })
    let throwing = false
    limiter.events.on('store-error', () => {
      if (throwing) throw new Error('store-error listener')
    })
    assert.equal((await limiter.consume('u')).source, 'store')
    await server.kill9()
    try {
      assert.equal((await limiter.consume('u')).source, 'fallback')
      assert.equal(limiter.stats().circuit, 'open')
      throwing = true
      await new Promise((resolve) => setTimeout(resolve, 150))
      // The probe: its store failure reaches the throwing listener, so this call rejects.
      await assert.rejects(limiter.consume('u'), /store-error listener/)
      throwing = false
    } finally {
      await server.restart()
    }
    // The probe's failure must still have been counted, so a later call probes again.
    await waitFor('decisions from the store again', async () => (await limiter.consume('u')).source === 'store', 5_000)
  })

  it('Redis killed with a batch in flight: every caller gets the fallback\'s answer, none hangs or rejects', async () => {
    await waitFor('the store after the restart above', async () => (await store.ping().then(() => true, () => false)), 5_000)
    const limiter = open({ namespace: 'midbatch', limit: 1e6, window: '1m', circuitBreaker: { probeInterval: '100ms' } })
    assert.equal((await limiter.consume('u')).source, 'store')
    // 200 decisions in one tick, sent to a stopped server: several calls in flight when it dies.
    server.pause()
    const pending = Array.from({ length: 200 }, (_, i) => limiter.consume(`u${i % 7}`))
    await new Promise((resolve) => setTimeout(resolve, 20))
    await server.kill9()
    try {
      const settled = await Promise.allSettled(pending)
      assert.ok(settled.every((s) => s.status === 'fulfilled' && s.value.allowed))
      const stats = limiter.stats()
      const fallbacks = settled.filter((s) => s.status === 'fulfilled' && s.value.source === 'fallback').length
      assert.equal(stats.fallbackDecisions, fallbacks)
      assert.equal(stats.allowed, 201)
    } finally {
      await server.restart()
    }
  })
})
