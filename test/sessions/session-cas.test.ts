import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSessionStore, createStore, type SessionStore } from '../../src/index.js'
import { REDIS, REDIS_CLUSTER, type TestServer } from '../harness/servers.js'
import { Worker } from '../harness/worker.js'

for (const backend of [REDIS, REDIS_CLUSTER]) {
  describe(`session compare-and-set: ${backend.name}`, () => {
    let server: TestServer
    before(async () => {
      server = await backend.start()
    })
    after(() => server.stop())

    it('50 concurrent updates from 2 processes, each appending one item, lose none', async () => {
      const workers = await Promise.all([0, 1].map(() => Worker.start('session-worker.js', [server.url, 'chat-42', '25'])))
      const replies = await Promise.all(workers.map((w) => w.send<{ failed: number; conflicts: number }>({ op: 'go' })))
      await Promise.all(workers.map((w) => w.stop()))
      assert.deepEqual(replies.map((r) => r.failed), [0, 0])
      assert.ok(replies.some((r) => r.conflicts > 0), "the processes did race (some updates retried)")
      const store = createStore({ url: server.url })
      const sessions = createSessionStore<{ items: string[] }>({ store })
      try {
        const items = (await sessions.get('chat-42'))?.items ?? []
        assert.equal(items.length, 50, `items: ${items.length}, conflicts retried: ${replies.map((r) => r.conflicts)}`)
        assert.equal(new Set(items).size, 50)
      } finally {
        await sessions.close()
        await store.close()
      }
    })
  })
}

describe('session compare-and-set: memory (versioned)', () => {
  it('two session stores over one memory store: 50 concurrent appends, none lost', async () => {
    const store = createStore()
    const [a, b] = [createSessionStore<{ items: number[] }>({ store }), createSessionStore<{ items: number[] }>({ store })]
    const append = (sessions: SessionStore<{ items: number[] }>, i: number) =>
      sessions.update('s1', async (current) => {
        // Yield between read and write, so the two stores' updates really interleave.
        await new Promise((resolve) => setImmediate(resolve))
        return { items: [...(current?.items ?? []), i] }
      })
    await Promise.all(Array.from({ length: 50 }, (_, i) => append(i % 2 ? a : b, i)))
    const items = (await a.get('s1'))?.items ?? []
    assert.deepEqual([...items].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i))
    assert.ok(a.stats().conflicts + b.stats().conflicts > 0, 'the two stores did collide and retry')
    await Promise.all([a.close(), b.close()])
    await store.close()
  })

  it('gives up with E_SESSION_CONFLICT after maxRetries lost races', async () => {
    const store = createStore()
    const sessions = createSessionStore<number>({ store, maxRetries: 3 })
    const rival = createSessionStore<number>({ store })
    let attempts = 0
    await assert.rejects(
      sessions.update('s', async (n) => {
        attempts++
        await rival.set('s', attempts * 100)
        return (n ?? 0) + 1
      }),
      { code: 'E_SESSION_CONFLICT', id: 's', attempts: 3 },
    )
    assert.equal(attempts, 3)
    assert.equal(await rival.get('s'), 300, 'the losing update wrote nothing')
    await store.close()
  })
})
