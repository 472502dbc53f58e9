import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type CacheEvents, ManualClock } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { CACHE_BACKENDS, useCacheBackend } from './backends.js'

const delay = <T>(ms: number, value?: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value as T), ms))

for (const backend of CACHE_BACKENDS) {
  describe(`grace and timeouts: ${backend.name}`, () => {
    const env = useCacheBackend(backend)
    const open = (clock: ManualClock, options: Record<string, unknown> = {}) => env.group().open({ clock, ttl: '1m', grace: '1h', ...options })

    it('serves an expired entry within grace at once while one background refresh runs', async () => {
      const clock = new ManualClock()
      const cache = open(clock)
      await cache.getOrSet('k', () => 'v1')
      clock.advance(61_000)
      assert.equal(await cache.get('k'), undefined, 'get never answers stale')
      let calls = 0
      const refresh = async () => {
        calls++
        return delay(30, 'v2')
      }
      const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSetEntry('k', refresh)))
      assert.ok(results.every((r) => r.value === 'v1' && r.status === 'stale'))
      await waitFor('the background refresh to land', async () => (await cache.get('k')) === 'v2', 5_000)
      assert.equal(calls, 1)
      assert.equal(cache.stats().stale, 20)
      assert.equal((await cache.getOrSetEntry('k', refresh)).status, 'hit')
    })

    it('serves the stale value when the loader fails, and reports the failure', async () => {
      const clock = new ManualClock()
      const cache = open(clock, { timeout: '1s' })
      await cache.set('k', 'old')
      clock.advance(61_000)
      const reasons: Array<CacheEvents['stale']['reason']> = []
      cache.events.on('stale', (event) => reasons.push(event.reason))
      const errors: Error[] = []
      cache.events.on('loader-error', (event) => errors.push(event.error))
      const result = await cache.getOrSetEntry('k', async () => {
        throw new Error('provider down')
      })
      assert.deepEqual([result.value, result.status], ['old', 'stale'])
      assert.deepEqual(reasons, ['loader-failed'])
      assert.equal(errors[0]?.message, 'provider down')
      assert.equal((await cache.getOrSetEntry('k', async () => 'new')).value, 'new', 'a later refresh that works replaces it')
    })

    it('past the grace period the entry is gone: the caller waits for the loader', async () => {
      const clock = new ManualClock()
      const cache = open(clock)
      await cache.set('k', 'old')
      clock.advance(61_000 + 3_600_000)
      const result = await cache.getOrSetEntry('k', () => delay(10, 'new'))
      assert.deepEqual([result.value, result.status], ['new', 'miss'])
    })

    it('soft timeout: a slow loader gives way to the stale value and still lands in the cache', async () => {
      const clock = new ManualClock()
      const cache = open(clock)
      await cache.set('k', 'old')
      clock.advance(61_000)
      const slow = await cache.getOrSetEntry('k', () => delay(250, 'slow'), { timeout: '30ms' })
      assert.deepEqual([slow.value, slow.status], ['old', 'stale'])
      await waitFor('the slow loader to be cached', async () => (await cache.get('k')) === 'slow', 5_000)
    })

    it('soft timeout: a loader faster than the timeout is waited for', async () => {
      const clock = new ManualClock()
      const cache = open(clock)
      await cache.set('k', 'old')
      clock.advance(61_000)
      const fast = await cache.getOrSetEntry('k', () => delay(5, 'fast'), { timeout: '2s' })
      assert.deepEqual([fast.value, fast.status], ['fast', 'miss'])
    })

    it('hard timeout: with nothing to serve, a slow loader fails the call with E_LOADER_TIMEOUT, and its result is kept', async () => {
      const clock = new ManualClock()
      const cache = open(clock, { hardTimeout: '30ms' })
      await assert.rejects(cache.getOrSet('k', () => delay(200, 'late')), { code: 'E_LOADER_TIMEOUT', key: 'k', timeoutMs: 30 })
      await waitFor('the late result to be cached', async () => (await cache.get('k')) === 'late', 5_000)
      assert.equal(await cache.getOrSet('fast', () => delay(1, 'ok')), 'ok', 'a fast loader is unaffected')
    })

    if (backend.start) {
      it('an instance with an expired L1 copy takes the entry another instance refreshed in L2', async () => {
        const clock = new ManualClock()
        const group = env.group()
        const [a, b] = [group.open({ clock, ttl: '1m', grace: '1h' }), group.open({ clock, ttl: '1m', grace: '1h' })]
        await a.set('k', 'v1')
        assert.equal(await b.get('k'), 'v1')
        clock.advance(61_000)
        assert.equal((await a.getOrSetEntry('k', async () => 'v2', { timeout: '5s' })).value, 'v2')
        const result = await b.getOrSetEntry('k', () => assert.fail('b must not load: L2 has a fresh entry'))
        assert.deepEqual([result.value, result.status, result.tier], ['v2', 'hit', 'l2'])
      })
    }

    it('per-call ttl and grace override the defaults', async () => {
      const clock = new ManualClock()
      const cache = open(clock)
      await cache.set('short', 'v', { ttl: '1s', grace: 0 })
      clock.advance(1_500)
      assert.equal(await cache.get('short'), undefined)
      assert.equal((await cache.getOrSetEntry('short', () => 'reloaded')).status, 'miss', 'no grace: not served stale')
    })
  })
}
