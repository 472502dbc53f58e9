import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type CacheEvents, createStore, ManualClock } from '../../src/index.js'
import { CACHE_BACKENDS, useCacheBackend } from './backends.js'

for (const backend of CACHE_BACKENDS) {
  describe(`cache tiers: ${backend.name}`, () => {
    const env = useCacheBackend(backend)
    const remote = backend.start !== undefined

    it('gets what was set, misses what was not, and deletes', async () => {
      const cache = env.group().open()
      assert.equal(await cache.get('nothing'), undefined)
      await cache.set('k', { text: 'hello', n: [1, 2, 3] })
      assert.deepEqual(await cache.get('k'), { text: 'hello', n: [1, 2, 3] })
      await cache.set('null', null)
      assert.equal(await cache.get('null'), null)
      await cache.delete('k')
      assert.equal(await cache.get('k'), undefined)
      assert.deepEqual(cache.stats().hits.l1, 2)
    })

    if (remote) it('promotes an L2 hit to L1 on a plain get, and l1: false bypasses L1', async () => {
      const group = env.group()
      const writer = group.open()
      const reader = group.open()
      await writer.set('shared', 'v1')
      assert.equal(await reader.get('shared', { l1: false }), 'v1')
      assert.deepEqual(reader.stats().hits, { l1: 0, l2: 1 })
      assert.equal(reader.stats().l1.entries, 0, 'a read with l1: false must not fill L1')
      assert.equal(await reader.get('shared'), 'v1')
      assert.equal(await reader.get('shared'), 'v1')
      assert.deepEqual(reader.stats().hits, { l1: 1, l2: 2 })
      assert.equal(reader.stats().l1.entries, 1)
      await writer.set('l2-only', 'x', { l1: false })
      assert.equal(writer.stats().l1.entries, 1, 'set with l1: false writes L2 only')
      assert.equal(await writer.get('l2-only'), 'x')
    })

    if (remote) it('an L2 hit is promoted on getOrSet too, without calling the loader', async () => {
      const group = env.group()
      await group.open().set('k', 'from-l2')
      const reader = group.open()
      const result = await reader.getOrSetEntry('k', () => assert.fail('loader must not run on an L2 hit'))
      assert.deepEqual([result.value, result.status, result.tier], ['from-l2', 'hit', 'l2'])
      assert.equal((await reader.getOrSetEntry('k', () => 'never')).tier, 'l1')
    })

    if (remote) {
      it('bytes in L2 that are not an entry read as a miss and are reported, never thrown', async () => {
        const group = env.group()
        const cache = group.open()
        const raw = createStore({ url: env.url as string, keyPrefix: group.prefix })
        try {
          await raw.set('c:default:0:foreign', 'written by something else')
          const errors: string[] = []
          cache.events.on('error', (event) => errors.push((event.error as { code?: string }).code ?? ''))
          assert.equal(await cache.getOrSet('foreign', () => 'loaded'), 'loaded')
          assert.ok(errors.length > 0 && errors.every((code) => code === 'E_CORRUPT_ENTRY'), `errors: ${errors}`)
          assert.equal(await cache.get('foreign', { l1: false }), 'loaded', 'the loader’s value replaced the foreign bytes')
        } finally {
          await raw.close()
        }
      })
    }

    it('works without L1 (l1: false): every read goes to L2 or, without one, misses', async () => {
      const cache = env.group().open({ l1: false })
      await cache.set('k', 'v')
      assert.equal(await cache.get('k'), remote ? 'v' : undefined)
      assert.equal(cache.stats().l1.entries, 0)
    })

    it('expires entries by the cache clock: L1 after its own ttl cap, both after the entry ttl', async () => {
      const clock = new ManualClock()
      const group = env.group()
      const cache = group.open({ clock, ttl: '1m', l1: { ttl: '10s' } })
      await cache.set('k', 'v')
      clock.advance(11_000)
      assert.equal(await cache.get('k'), remote ? 'v' : undefined, 'past the L1 cap, L2 still answers')
      clock.advance(50_000)
      assert.equal(await cache.get('k'), undefined, 'past the entry ttl nothing answers')
    })

    it('keeps L1 within maxBytes', async () => {
      const cache = env.group().open({ l1: { maxBytes: 64 * 1024 } })
      for (let i = 0; i < 500; i++) await cache.set(`k${i}`, 'x'.repeat(1000), { l1: true })
      const { bytes, entries } = cache.stats().l1
      assert.ok(bytes <= 64 * 1024, `${bytes} bytes in L1`)
      assert.ok(entries > 10 && entries < 500, `${entries} entries kept`)
    })

    it('refuses an entry over maxEntryBytes on set, returns (but does not cache) it from getOrSet', async () => {
      const cache = env.group().open({ maxEntryBytes: 1000 })
      await assert.rejects(cache.set('big', 'x'.repeat(2000)), { code: 'E_VALUE_TOO_LARGE', bytes: 2002, maxBytes: 1000 })
      assert.equal(await cache.getOrSet('big', () => 'y'.repeat(2000)), 'y'.repeat(2000))
      assert.equal(await cache.get('big'), undefined)
      assert.equal(cache.stats().oversize, 1)
    })

    it('refuses values JSON cannot hold, and undefined', async () => {
      const cache = env.group().open()
      await assert.rejects(cache.set('bigint', { n: 10n }), { code: 'E_SERIALIZATION' })
      await assert.rejects(cache.set('undef', undefined), { code: 'E_INVALID_OPTION', option: 'value' })
      assert.equal(await cache.getOrSet('u', () => undefined), undefined, 'undefined from a loader is returned, not cached')
    })

    it('compresses large payloads in L2 and reads them back; a custom serializer is used both ways', async () => {
      const group = env.group()
      const writer = group.open({ compression: { threshold: 100 } })
      const text = 'the same sentence again and again. '.repeat(200)
      await writer.set('long', { text })
      assert.deepEqual(await group.open().get('long'), remote ? { text } : undefined)
      assert.deepEqual(await writer.get('long'), { text })
      const upper = { serialize: (v: unknown) => String(v).toUpperCase(), deserialize: (b: Buffer) => `<${b.toString()}>` }
      const custom = env.group().open({ serializer: upper, l1: false })
      await custom.set('s', 'abc')
      assert.equal(await custom.get('s'), remote ? '<ABC>' : undefined)
    })

    it('counts hits per tier, misses and loader calls, and emits events with the namespace', async () => {
      const cache = env.group().open({ namespace: 'ev' })
      await cache.ready()
      const seen: string[] = []
      for (const name of ['hit', 'miss', 'set', 'delete', 'invalidate'] as const) {
        cache.events.on(name, (payload: CacheEvents[typeof name]) => seen.push(`${name}:${payload.namespace}`))
      }
      await cache.getOrSet('k', () => 1)
      await cache.getOrSet('k', () => 2)
      await cache.delete('k')
      await cache.invalidateTags(['t'])
      await cache.clearNamespace()
      assert.deepEqual(seen, ['miss:ev', 'set:ev', 'hit:ev', 'delete:ev', 'invalidate:ev', 'invalidate:ev'])
      const stats = cache.stats()
      assert.deepEqual([stats.misses, stats.loaderCalls, stats.hits.l1], [1, 1, 1])
      assert.equal(stats.circuit, remote ? 'closed' : 'none')
      assert.equal(stats.bus, backend.bus ? 'healthy' : 'none')
    })
  })
}
