import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { type Algorithm, createRateLimiter, createStore, type RateLimiter, type RateLimiterOptions, type Store } from '../../src/index.js'
import { keyCount, keysWithoutTtl } from '../harness/keyspace.js'

export interface LimiterBackend {
  url: string
  /** Redis ports whose keyspace is checked for keys without TTL at the end. */
  redisPorts?: number[]
  stop(): Promise<void>
}

const ALGORITHMS: Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket']

/**
 * The limiter's behaviour, run against every store that can hold it. memcached runs the fixed
 * window only (what it can do atomically) and must refuse the rest by name.
 */
export function limiterSuite(name: string, start: () => Promise<LimiterBackend>): void {
  describe(`rate limiter: ${name}`, async () => {
    const backend = await start()
    const store: Store = createStore({ url: backend.url, keyPrefix: 'suite:', commandTimeout: '1s' })
    const limiters: RateLimiter[] = []
    const limiter = (options: Omit<RateLimiterOptions, 'store'>): RateLimiter => {
      const created = createRateLimiter({ store, logger: false, ...options })
      limiters.push(created)
      return created
    }
    const scripted = store.capabilities.scripts
    const algorithms = scripted ? ALGORITHMS : (['fixed-window'] as Algorithm[])
    after(async () => {
      await Promise.all(limiters.map((l) => l.close()))
      await store.close()
      await backend.stop()
    })

    for (const algorithm of algorithms) {
      it(`${algorithm}: allows up to the limit, then refuses with a retry time`, async () => {
        const l = limiter({ algorithm, limit: 5, window: '1m', namespace: `basic-${algorithm}` })
        const decisions = []
        for (let i = 0; i < 7; i++) decisions.push(await l.consume('user:1'))
        assert.deepEqual(
          decisions.map((d) => d.allowed),
          [true, true, true, true, true, false, false],
        )
        assert.deepEqual(
          decisions.slice(0, 5).map((d) => d.remaining),
          [4, 3, 2, 1, 0],
        )
        const refused = decisions[5]!
        assert.equal(refused.source, 'store')
        assert.equal(refused.reason, 'limit')
        // The sliding window counts a request for up to window + window/buckets (10%).
        assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 66_000, `retry ${refused.retryAfterMs}`)
        assert.ok(refused.resetMs > 0 && refused.resetMs <= 66_000, `reset ${refused.resetMs}`)
        assert.equal((await l.consume('user:2')).allowed, true, 'another key has its own limit')
      })

      it(`${algorithm}: weighted costs, and a cost above the limit is refused without consuming`, async () => {
        const l = limiter({ algorithm, limit: 100, window: '1m', namespace: `cost-${algorithm}` })
        assert.equal((await l.consume('k', { cost: 60 })).remaining, 40)
        const tooBig = await l.consume('k', { cost: 101 })
        assert.equal(tooBig.allowed, false)
        assert.equal(tooBig.reason, 'cost-exceeds-limit')
        assert.equal(tooBig.retryAfterMs, Number.POSITIVE_INFINITY)
        const over = await l.consume('k', { cost: 41 })
        assert.equal(over.allowed, false)
        assert.equal(over.reason, 'limit')
        assert.equal((await l.consume('k', { cost: 40 })).allowed, true, 'refusals took nothing')
        assert.equal((await l.consume('k', { cost: 0 })).allowed, true)
      })

      it(`${algorithm}: peek reports without consuming; reset forgets`, async () => {
        const l = limiter({ algorithm, limit: 3, window: '1m', namespace: `peek-${algorithm}` })
        await l.consume('p')
        const peeked = await l.peek('p')
        assert.equal(peeked.allowed, true)
        assert.equal(peeked.remaining, 2)
        assert.equal((await l.peek('p')).remaining, 2)
        await l.consume('p', { cost: 2 })
        assert.equal((await l.peek('p')).allowed, false)
        assert.equal((await l.consume('p')).allowed, false)
        await l.reset('p')
        assert.equal((await l.consume('p')).remaining, 2)
      })

      it(`${algorithm}: a sub-second window refills on time, without rounding to seconds`, async () => {
        const l = limiter({ algorithm, limit: 2, window: '300ms', namespace: `sub-${algorithm}`, blockCache: false })
        // A fixed window may turn over between two calls (that is what a fixed window does); then the
        // second call is rightly allowed, and the check starts again on a fresh key.
        let key = 'fast'
        let refused = { allowed: true, retryAfterMs: 0 }
        for (let attempt = 0; refused.allowed && attempt < (algorithm === 'fixed-window' ? 5 : 1); attempt++) {
          key = `fast-${attempt}`
          assert.equal((await l.consume(key, { cost: 2 })).allowed, true)
          refused = await l.consume(key)
        }
        assert.equal(refused.allowed, false)
        assert.ok(refused.retryAfterMs <= 330, `retry ${refused.retryAfterMs} ms must not be rounded up to a second`)
        const started = Date.now()
        let allowed = false
        while (!allowed && Date.now() - started < 5_000) {
          await new Promise((resolve) => setTimeout(resolve, 20))
          allowed = (await l.consume(key)).allowed
        }
        // No wall-clock bound on when: the machine may be busy. The retry time above is what says the window was not rounded up.
        assert.ok(allowed, 'allowed again after the window')
      })
    }

    it('keys of any shape are distinct and safe (unicode, 10 kB, *, :, braces, newlines)', async () => {
      const l = limiter({ algorithm: 'fixed-window', limit: 1, window: '1m', namespace: 'shapes' })
      const long = 'x'.repeat(10_000)
      const keys = ['пользователь:42', '🔥', '*', 'a:b:c', '{tag}', 'line\nbreak', '', `${long}1`, `${long}2`, '{}{}']
      for (const key of keys) assert.equal((await l.consume(key)).allowed, true, `first request of ${JSON.stringify(key.slice(0, 20))}`)
      for (const key of keys) assert.equal((await l.consume(key)).allowed, false, `second request of ${JSON.stringify(key.slice(0, 20))}`)
    })

    it('a blocked key is answered from the local block cache until its retry time (remote stores)', async () => {
      const l = limiter({ algorithm: 'fixed-window', limit: 1, window: '1m', namespace: 'blockcache' })
      await l.consume('flood')
      for (let i = 0; i < 50; i++) assert.equal((await l.consume('flood')).allowed, false)
      // The memory store has no round trip to save, so it keeps no block cache.
      const expected = store.capabilities.shared ? 49 : 0
      assert.equal(l.stats().blockCacheHits, expected, 'the first refusal asked the store, the other 49 did not')
      assert.equal((await l.consume('flood', { cost: 0 })).allowed, true, 'a cheaper request still asks the store')
      await l.reset('flood')
      assert.equal((await l.consume('flood')).allowed, true, 'reset clears the cached block too')
    })

    if (scripted) {
      it('several rules decide together, all or nothing', async () => {
        const l = limiter({
          namespace: 'multi',
          rules: [
            { name: 'requests', algorithm: 'sliding-window', limit: 5, window: '1m' },
            { name: 'tokens', algorithm: 'token-bucket', limit: 1000, window: '1m' },
            { name: 'daily', algorithm: 'fixed-window', limit: 100, window: '1d' },
          ],
        })
        const first = await l.consume('api-key-1', { cost: { tokens: 900 } })
        assert.equal(first.allowed, true)
        assert.deepEqual(
          first.rules.map((r) => [r.name, r.remaining]),
          [
            ['requests', 4],
            ['tokens', 100],
            ['daily', 99],
          ],
        )
        assert.equal(first.limit, 1000, 'the tightest rule (tokens, 10% left) speaks for the decision')
        const refused = await l.consume('api-key-1', { cost: { tokens: 200 } })
        assert.equal(refused.allowed, false)
        assert.deepEqual(
          refused.rules.map((r) => [r.name, r.allowed, r.remaining]),
          [
            ['requests', true, 4],
            ['tokens', false, 100],
            ['daily', true, 99],
          ],
          'the refused request consumed nothing from the rules that would have allowed it',
        )
        const after = await l.peek('api-key-1', { cost: { tokens: 0 } })
        assert.deepEqual(
          after.rules.map((r) => r.remaining),
          [4, 100, 99],
        )
      })
    } else {
      it('refuses what it cannot do atomically, by name', () => {
        for (const algorithm of ['sliding-window', 'token-bucket'] as const) {
          assert.throws(() => createRateLimiter({ store, algorithm, limit: 1, window: '1s' }), { code: 'E_UNSUPPORTED_BY_STORE' })
        }
        assert.throws(
          () =>
            createRateLimiter({
              store,
              rules: [
                { name: 'a', algorithm: 'fixed-window', limit: 1, window: '1s' },
                { name: 'b', algorithm: 'fixed-window', limit: 1, window: '1m' },
              ],
            }),
          { code: 'E_UNSUPPORTED_BY_STORE' },
        )
      })
    }

    if (backend.redisPorts) {
      it('every key the limiter wrote has a TTL', async () => {
        const ports = backend.redisPorts as number[]
        assert.ok((await keyCount(ports)) > 20, 'the suite wrote keys')
        assert.deepEqual(await keysWithoutTtl(ports), [])
      })
    }
  })
}
