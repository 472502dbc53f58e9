import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { type CreateStoreOptions, createStore, type Store, type StoreScript } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'

export interface SuiteBackend {
  /** URL of the running backend. */
  url: string
  /** Stops the backend (called after the suite). */
  stop(): Promise<void>
}

const SWAP_LUA = "local old = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], ARGV[1]); return old"
/** A tiny script with a memory twin, to check that scripts run and see prefixed keys. */
const SWAP: StoreScript<string | null> = {
  name: 'test-swap',
  lua: SWAP_LUA,
  sha: createHash('sha1').update(SWAP_LUA).digest('hex'),
  memory: (ctx, keys, args) => {
    const key = keys[0] as string
    const old = ctx.get(key)
    ctx.set(key, Buffer.from(args[0] as string))
    return old === undefined ? null : String(old)
  },
}

/**
 * The one store suite every backend runs: the same behaviour asserted against memory, Redis,
 * Redis Cluster and memcached. `start` brings up a private server (or nothing, for memory).
 */
export function storeSuite(name: string, start: () => Promise<SuiteBackend>): void {
  describe(`store suite: ${name}`, async () => {
    const backend = await start()
    const stores: Store[] = []
    const open = (options: CreateStoreOptions = {}): Store => {
      const store = createStore({ url: backend.url, keyPrefix: `t${stores.length}:`, ...options })
      stores.push(store)
      return store
    }
    after(async () => {
      await Promise.all(stores.map((store) => store.close()))
      await backend.stop()
    })

    it('sets, gets and deletes values; a missing key reads as null', async () => {
      const store = open()
      assert.equal(await store.get('missing'), null)
      assert.equal(await store.set('k', 'v'), true)
      assert.deepEqual(await store.get('k'), Buffer.from('v'))
      assert.equal(await store.delete('k', 'never-set'), 1)
      assert.equal(await store.get('k'), null)
    })

    it('reads several values at once, in order, with null for the missing ones', async () => {
      const store = open()
      await store.set('m1', 'one')
      await store.set('m3', 'three')
      assert.deepEqual(await store.getMany(['m1', 'm2', 'm3', 'm1']), [Buffer.from('one'), null, Buffer.from('three'), Buffer.from('one')])
      assert.deepEqual(await store.getMany([]), [])
    })

    it('expires a value after its TTL and keeps one without TTL', async () => {
      const store = open()
      await store.set('short', 'x', { ttlMs: 300 })
      await store.set('forever', 'y')
      assert.deepEqual(await store.get('short'), Buffer.from('x'))
      // memcached counts whole seconds, so allow it up to a few of them.
      await waitFor('the short-lived key to expire', async () => (await store.get('short')) === null, 5_000)
      assert.deepEqual(await store.get('forever'), Buffer.from('y'))
      if (store.capabilities.ttlRead) assert.equal(await store.pttl('forever'), -1)
    })

    it('writes with ifNotExists only once', async () => {
      const store = open()
      assert.equal(await store.set('once', 'first', { ifNotExists: true, ttlMs: 10_000 }), true)
      assert.equal(await store.set('once', 'second', { ifNotExists: true, ttlMs: 10_000 }), false)
      assert.deepEqual(await store.get('once'), Buffer.from('first'))
    })

    it('changes the TTL of an existing key with expire', async () => {
      const store = open()
      await store.set('e', 'v')
      assert.equal(await store.expire('e', 300), true)
      assert.equal(await store.expire('no-such-key', 300), false)
      await waitFor('expire to take effect', async () => (await store.get('e')) === null, 5_000)
    })

    it('counts exactly under 200 concurrent increments', async () => {
      const store = open()
      const results = await Promise.all(Array.from({ length: 200 }, () => store.increment('hits', 1, { ttlMs: 60_000 })))
      assert.equal(await store.increment('hits', 5), 205)
      // Every intermediate value was seen once: no two increments read the same count.
      assert.deepEqual(
        [...results].sort((a, b) => a - b),
        Array.from({ length: 200 }, (_, i) => i + 1),
      )
      assert.equal((await store.get('hits'))?.toString(), '205')
    })

    it('gives a new counter the TTL and never extends it on later increments', async () => {
      const store = open()
      await store.increment('window', 1, { ttlMs: 400 })
      await store.increment('window', 1, { ttlMs: 60_000 })
      if (store.capabilities.ttlRead) {
        const ttl = await store.pttl('window')
        assert.ok(ttl > 0 && ttl <= 400, `ttl ${ttl} should stay within the first 400 ms`)
      }
      await waitFor('the counter to expire', async () => (await store.get('window')) === null, 5_000)
      assert.equal(await store.increment('window', 1), 1)
    })

    it('isolates two key prefixes on the same backend', async () => {
      const a = open({ keyPrefix: 'tenant-a:' })
      const b = open({ keyPrefix: 'tenant-b:' })
      await a.set('shared-name', 'from a')
      await b.set('shared-name', 'from b')
      await a.increment('n', 3)
      assert.deepEqual(await a.get('shared-name'), Buffer.from('from a'))
      assert.deepEqual(await b.get('shared-name'), Buffer.from('from b'))
      assert.equal(await b.get('n'), null)
      await a.delete('shared-name')
      assert.deepEqual(await b.get('shared-name'), Buffer.from('from b'))
    })

    it('round-trips large and binary values byte for byte, and refuses oversized ones', async () => {
      const store = open({ maxValueBytes: 600 * 1024 })
      const large = randomBytes(512 * 1024)
      const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      await store.set('large', large)
      await store.set('bytes', everyByte)
      await store.set('text', 'héllo wörld ✓')
      assert.ok(large.equals((await store.get('large')) as Buffer))
      assert.ok(everyByte.equals((await store.get('bytes')) as Buffer))
      assert.equal((await store.get('text'))?.toString('utf8'), 'héllo wörld ✓')
      await assert.rejects(store.set('huge', randomBytes(700 * 1024)), { code: 'E_VALUE_TOO_LARGE' })
      assert.equal(await store.get('huge'), null)
    })

    it('accepts unicode, separator-laden and 10 kB keys without mixing them up', async () => {
      const store = open()
      const long = 'k'.repeat(10_000)
      const keys = ['🔑 ключ 鍵', 'a b\nc\td', '*:{tag}:*', '', `${long}1`, `${long}2`, `{slot}${long}`]
      await Promise.all(keys.map((key, i) => store.set(key, `value ${i}`)))
      for (const [i, key] of keys.entries()) assert.equal((await store.get(key))?.toString(), `value ${i}`, `key #${i}`)
      assert.equal(await store.increment(`${long}counter`, 2), 2)
      assert.equal(await store.delete(`${long}1`), 1)
      assert.equal((await store.get(`${long}2`))?.toString(), 'value 5')
    })

    it('runs scripts atomically where supported, and says so where not', async () => {
      const store = open()
      if (!store.capabilities.scripts) {
        await assert.rejects(store.runScript(SWAP, ['s'], ['v']), { code: 'E_UNSUPPORTED_BY_STORE' })
        return
      }
      assert.equal(await store.runScript(SWAP, ['s'], ['one']), null)
      assert.equal(await store.runScript(SWAP, ['s'], ['two']), 'one')
      assert.equal((await store.get('s'))?.toString(), 'two')
    })

    it('delivers pub/sub messages within one prefix where supported, and says so where not', async () => {
      const a = open({ keyPrefix: 'bus-a:' })
      const b = open({ keyPrefix: 'bus-b:' })
      if (!a.capabilities.pubsub) {
        await assert.rejects(
          a.subscribe('ch', () => {}),
          { code: 'E_UNSUPPORTED_BY_STORE' },
        )
        await assert.rejects(a.publish('ch', 'x'), { code: 'E_UNSUPPORTED_BY_STORE' })
        return
      }
      const received: string[] = []
      const wrongPrefix: string[] = []
      const unsubscribe = await a.subscribe('ch', (message) => received.push(message))
      await b.subscribe('ch', (message) => wrongPrefix.push(message))
      await a.publish('ch', 'hello ✓')
      await waitFor('the message to arrive', async () => received.length === 1)
      assert.deepEqual(received, ['hello ✓'])
      await unsubscribe()
      await a.publish('ch', 'after unsubscribe')
      await b.publish('ch', 'to b')
      await waitFor('b to get its own message', async () => wrongPrefix.length === 1)
      assert.deepEqual(received, ['hello ✓'])
      assert.deepEqual(wrongPrefix, ['to b'])
    })

    it('answers ping, and fails every call with E_STORE_CLOSED after close', async () => {
      const store = createStore({ url: backend.url })
      assert.ok((await store.ping()) >= 0)
      await store.close()
      await store.close()
      await assert.rejects(store.get('k'), { code: 'E_STORE_CLOSED' })
      await assert.rejects(store.set('k', 'v'), { code: 'E_STORE_CLOSED' })
      await assert.rejects(store.increment('k'), { code: 'E_STORE_CLOSED' })
    })
  })
}
