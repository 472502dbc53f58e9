import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createCache } from '../../src/index.js'

describe('cache options', () => {
  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['ttl', { ttl: 0 }, 'ttl'],
    ['ttl as text', { ttl: 'soon' }, 'ttl'],
    ['grace', { grace: -1 }, 'grace'],
    ['ttl + grace over 30 days', { ttl: '20d', grace: '20d' }, 'grace'],
    ['l1.maxBytes', { l1: { maxBytes: 10 } }, 'l1.maxBytes'],
    ['l1 typo', { l1: { maxbytes: 1024 } }, 'l1.maxbytes'],
    ['namespace', { namespace: 'has space' }, 'namespace'],
    ['store', { store: { url: 'redis://' } }, 'store'],
    ['serializer', { serializer: JSON }, 'serializer'],
    ['compression.threshold', { compression: { threshold: 0 } }, 'compression.threshold'],
    ['lease.ttl', { lease: { ttl: 0 } }, 'lease.ttl'],
    ['lease.ttl longer than a Node timer', { lease: { ttl: '100d' } }, 'lease.ttl'],
    ['lease.wait longer than a Node timer', { lease: { wait: '30d' } }, 'lease.wait'],
    ['hardTimeout longer than a Node timer', { hardTimeout: '25d' }, 'hardTimeout'],
    ['unknown option', { tll: '1m' }, 'tll'],
  ]
  for (const [name, options, option] of invalid) {
    it(`refuses ${name} with E_INVALID_OPTION naming "${option}"`, () => {
      assert.throws(() => createCache(options as never), { code: 'E_INVALID_OPTION', option })
    })
  }

  it('refuses bad per-call options, keys and loaders by name', async () => {
    const cache = createCache()
    await assert.rejects(cache.set('k', 1, { ttl: '1 week' as never }), { code: 'E_INVALID_OPTION', option: 'ttl' })
    await assert.rejects(cache.getOrSet('k', () => 1, { tags: 'x' as never }), { code: 'E_INVALID_OPTION', option: 'tags' })
    await assert.rejects(cache.getOrSet('k', () => 1, { graze: '1m' } as never), { code: 'E_INVALID_OPTION', option: 'graze' })
    await assert.rejects(cache.getOrSet('k', 'value' as never), { code: 'E_INVALID_OPTION', option: 'loader' })
    await assert.rejects(cache.get(''), { code: 'E_INVALID_OPTION', option: 'key' })
    assert.throws(() => cache.namespaced('a b'), { code: 'E_INVALID_OPTION', option: 'namespace' })
    await cache.close()
  })

  it('a namespaced view shares tiers and stats, and closing it closes nothing', async () => {
    const cache = createCache({ namespace: 'root' })
    const child = cache.namespaced('child')
    await child.set('k', 1)
    assert.equal(await cache.namespaced('child').get('k'), 1, 'another view of the same namespace sees it')
    await child.close()
    assert.equal(await child.get('k'), 1)
    assert.equal(await cache.get('k'), undefined)
    assert.equal(cache.stats().hits.l1, 2, 'both hits counted in the shared stats')
    await cache.close()
  })
})
