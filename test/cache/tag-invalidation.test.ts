import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { CACHE_BACKENDS, useCacheBackend } from './backends.js'

const delay = <T>(ms: number, value?: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value as T), ms))

for (const backend of CACHE_BACKENDS) {
  describe(`tag invalidation: ${backend.name}`, () => {
    const env = useCacheBackend(backend)

    it('drops every entry carrying an invalidated tag and nothing else', async () => {
      const cache = env.group().open({ clock: new ManualClock() })
      await cache.set('support-1', 'a', { tags: ['persona:support', 'prompt:v12'] })
      await cache.set('support-2', 'b', { tags: ['persona:support'] })
      await cache.set('sales-1', 'c', { tags: ['persona:sales', 'prompt:v12'] })
      await cache.set('untagged', 'd')
      await cache.invalidateTags(['persona:support'])
      assert.deepEqual(
        await Promise.all(['support-1', 'support-2', 'sales-1', 'untagged'].map((k) => cache.get(k))),
        [undefined, undefined, 'c', 'd'],
      )
      await cache.invalidateTags(['prompt:v12'])
      assert.equal(await cache.get('sales-1'), undefined)
    })

    it('an entry written after the invalidation is valid, even within the same millisecond', async () => {
      const cache = env.group().open({ clock: new ManualClock() })
      await cache.set('k', 'before', { tags: ['t'] })
      await cache.invalidateTags(['t'])
      await cache.set('k', 'after', { tags: ['t'] })
      assert.equal(await cache.get('k'), 'after')
    })

    it('a loader that started before the invalidation does not make its result valid', async () => {
      const cache = env.group().open()
      let started: () => void = () => {}
      const running = new Promise<void>((resolve) => (started = resolve))
      const loader = () => {
        started()
        return delay(60, 'computed from the old prompt')
      }
      const loading = cache.getOrSet('k', loader, { tags: ['prompt:v12'] })
      await running
      await cache.invalidateTags(['prompt:v12'])
      assert.equal(await loading, 'computed from the old prompt', 'the caller still gets what it waited for')
      assert.equal(await cache.get('k'), undefined, 'but the next caller does not')
    })

    it('tags belong to a namespace', async () => {
      const cache = env.group().open({ namespace: 'a' })
      const other = cache.namespaced('b')
      await cache.set('k', 'in a', { tags: ['t'] })
      await other.set('k', 'in b', { tags: ['t'] })
      await other.invalidateTags(['t'])
      assert.deepEqual([await cache.get('k'), await other.get('k')], ['in a', undefined])
    })

    it('rejects malformed tags with E_INVALID_OPTION', async () => {
      const cache = env.group().open()
      await assert.rejects(cache.set('k', 1, { tags: ['ok', ''] }), { code: 'E_INVALID_OPTION', option: 'tags.1' })
      await assert.rejects(cache.invalidateTags(['a\nb']), { code: 'E_INVALID_OPTION', option: 'tags.0' })
      await assert.rejects(cache.invalidateTags('t' as never), { code: 'E_INVALID_OPTION', option: 'tags' })
    })

    if (!backend.start) return

    it('another instance stops serving the tag, from L2 and from its L1: via the bus, or within the marker refresh', async () => {
      const clock = new ManualClock()
      const group = env.group()
      const a = group.open({ clock })
      const b = group.open({ clock })
      await Promise.all([a.ready(), b.ready()])
      await a.set('cached-in-b', 'v', { tags: ['persona:support'] })
      await a.set('only-in-l2', 'w', { tags: ['persona:support'] })
      assert.equal(await b.get('cached-in-b'), 'v')
      await a.invalidateTags(['persona:support'])
      // Without a bus, the marker refresh interval (1 s by default) bounds how long b may lag.
      if (!backend.bus) clock.advance(1_001)
      await waitFor('b to refuse the L2 entry', async () => (await b.get('only-in-l2', { l1: false })) === undefined, 5_000)
      await waitFor('b to drop the invalidated entry', async () => (await b.get('cached-in-b')) === undefined, 5_000)
    })
  })
}
