import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createStore, ManualClock } from '../../src/index.js'
import type { MemoryStore } from '../../src/stores/memory-store.js'
import { storeSuite } from './store-suite.js'

storeSuite('memory', async () => ({ url: 'memory://', stop: async () => {} }))

it('memory: measures TTLs with the injected clock', async () => {
  const clock = new ManualClock()
  const store = createStore({ clock })
  await store.set('k', 'v', { ttlMs: 1_000 })
  await store.increment('c', 1, { ttlMs: 500 })
  clock.advance(499)
  assert.equal(await store.pttl('c'), 1)
  assert.equal(await store.increment('c'), 2)
  // Like Redis, an entry is still there at exactly its expiry time and gone right after.
  clock.advance(2)
  assert.equal(await store.get('c'), null)
  assert.deepEqual(await store.get('k'), Buffer.from('v'))
  clock.advance(500)
  assert.equal(await store.get('k'), null)
  await store.close()
})

it('memory: stays within maxBytes by evicting least-recently-used entries', async () => {
  const maxBytes = 256 * 1024
  const store = createStore({ maxBytes }) as MemoryStore
  for (let i = 0; i < 5_000; i++) await store.set(`key:${i}`, Buffer.alloc(200))
  assert.ok(store.bytes <= maxBytes, `${store.bytes} bytes held, budget ${maxBytes}`)
  assert.equal(await store.get('key:0'), null, 'the oldest entry was evicted')
  assert.ok(await store.get('key:4999'), 'the newest entry is kept')
  await store.close()
})

it('memory: two stores in one process share nothing', async () => {
  const a = createStore()
  const b = createStore()
  await a.set('k', 'a')
  const heard: string[] = []
  await b.subscribe('ch', (m) => heard.push(m))
  await a.publish('ch', 'only for a')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(await b.get('k'), null)
  assert.deepEqual(heard, [])
  await Promise.all([a.close(), b.close()])
})
