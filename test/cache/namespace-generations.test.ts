import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../src/index.js'
import { keysWithoutTtl } from '../harness/keyspace.js'
import { run, waitFor } from '../harness/processes.js'
import { CACHE_BACKENDS, useCacheBackend } from './backends.js'

for (const backend of CACHE_BACKENDS) {
  describe(`namespace generations: ${backend.name}`, () => {
    const env = useCacheBackend(backend)

    it('clearNamespace makes every entry of the namespace unreachable at once, and only those', async () => {
      const cache = env.group().open({ namespace: 'llm' })
      const personas = cache.namespaced('personas')
      for (let i = 0; i < 50; i++) await cache.set(`m${i}`, i)
      await personas.set('support', 'be kind')
      await cache.clearNamespace()
      const after = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.get(`m${i}`)))
      assert.ok(after.every((v) => v === undefined))
      assert.equal(await personas.get('support'), 'be kind')
      await cache.set('m0', 'new')
      assert.equal(await cache.get('m0'), 'new')
    })

    if (backend.start) it('a new instance starts in the current generation', async () => {
      const group = env.group()
      const first = group.open()
      await first.set('k', 'old')
      await first.clearNamespace()
      await first.set('k2', 'current')
      const second = group.open()
      assert.deepEqual([await second.get('k'), await second.get('k2')], [undefined, 'current'])
    })

    if (backend.start) it('other instances follow the clear: via the bus, or within the marker refresh', async () => {
      const clock = new ManualClock()
      const group = env.group()
      const a = group.open({ clock })
      const b = group.open({ clock })
      await Promise.all([a.ready(), b.ready()])
      await a.set('k', 'v')
      assert.equal(await b.get('k'), 'v')
      await a.clearNamespace()
      if (!backend.bus) clock.advance(1_001)
      await waitFor('b to move to the new generation', async () => (await b.get('k')) === undefined, 5_000)
    })

    if (backend.name !== 'memory + redis') return

    it('on Redis: no SCAN, KEYS or DEL; old entries stay until their TTL; every key has a TTL', async () => {
      const port = new URL(env.url as string).port
      const cli = (...args: string[]) => run('redis-cli', ['-p', port, ...args])
      const cache = env.group().open({ namespace: 'deploy' })
      for (let i = 0; i < 20; i++) await cache.set(`k${i}`, i, { tags: ['t'] })
      await cli('CONFIG', 'RESETSTAT')
      const keysBefore = Number(await cli('DBSIZE'))
      await cache.clearNamespace()
      await cache.invalidateTags(['t'])
      const stats = await cli('INFO', 'commandstats')
      for (const command of ['scan', 'keys', 'del', 'unlink']) assert.ok(!stats.includes(`cmdstat_${command}:`), `${command} was called:\n${stats}`)
      assert.ok(Number(await cli('DBSIZE')) >= keysBefore, 'old entries were not deleted, just left to expire')
      assert.deepEqual(await keysWithoutTtl([Number(port)]), [])
    })
  })
}
