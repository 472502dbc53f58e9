import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createCache, createStore, ManualClock } from '../../src/index.js'
import { MemcachedServer } from '../harness/memcached-server.js'
import { waitFor } from '../harness/processes.js'
import { REDIS, REDIS_CLUSTER, type TestServer } from '../harness/servers.js'
import { Worker } from '../harness/worker.js'

for (const backend of [REDIS, REDIS_CLUSTER]) {
  describe(`L1 coherence across 2 processes: ${backend.name}`, () => {
    let server: TestServer
    let a: Worker
    let b: Worker
    before(async () => {
      server = await backend.start()
      ;[a, b] = await Promise.all([Worker.start('cache-worker.js', [server.url, 'chat']), Worker.start('cache-worker.js', [server.url, 'chat'])])
    })
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()])
      await server?.stop()
    })

    const readInB = async (key: string) => (await b.send<{ value: unknown }>({ op: 'get', key })).value
    /** Polls until b no longer answers `key`; the bus takes a round trip, not a TTL. */
    const dropped = (key: string) => waitFor(`b to drop ${key}`, async () => (await readInB(key)) === null, 5_000)

    it('delete, invalidateTags and clearNamespace in one process drop the other’s L1 entries', async () => {
      for (const [key, tags] of [['deleted', []], ['tagged', ['persona:support']], ['other', []]] as const) {
        await a.send({ op: 'set', key, value: `${key}-value`, tags })
        assert.equal(await readInB(key), `${key}-value`)
      }
      const before = await b.send<{ hits: { l1: number } }>({ op: 'stats' })
      assert.equal(await readInB('other'), 'other-value')
      const afterRead = await b.send<{ hits: { l1: number } }>({ op: 'stats' })
      assert.equal(afterRead.hits.l1, before.hits.l1 + 1, 'b answers from its own L1, so only the bus can make it forget')

      await a.send({ op: 'delete', key: 'deleted' })
      await dropped('deleted')
      await a.send({ op: 'invalidateTags', tags: ['persona:support'] })
      await dropped('tagged')
      assert.equal(await readInB('other'), 'other-value', 'untouched entries stay')
      await a.send({ op: 'clearNamespace' })
      await dropped('other')
    })
  })
}

describe('L1 coherence without a bus (memcached): the L1 ttl bounds staleness', () => {
  let server: MemcachedServer
  before(async () => {
    server = await MemcachedServer.start()
  })
  after(() => server.stop())

  it('a delete on one instance reaches the other’s L1 no later than l1.ttl', async () => {
    const clock = new ManualClock()
    const stores = [createStore({ url: server.url }), createStore({ url: server.url })]
    const [a, b] = stores.map((store) => createCache({ store, clock, ttl: '1h', l1: { ttl: '5s' } })) as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
    try {
      await a.set('k', 'v')
      assert.equal(await b.get('k'), 'v')
      await a.delete('k')
      assert.equal(await b.get('k'), 'v', 'no bus: b still serves its L1 copy')
      clock.advance(5_001)
      assert.equal(await b.get('k'), undefined, 'after l1.ttl it asks L2, where the entry is gone')
    } finally {
      await Promise.all([a.close(), b.close()])
      await Promise.all(stores.map((s) => s.close()))
    }
  })
})
