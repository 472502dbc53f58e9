import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSessionId, createSessionStore, createStore, ManualClock, type Store } from '../../src/index.js'
import { MEMCACHED, REDIS, type TestServer } from '../harness/servers.js'

const BACKENDS: Array<{ name: string; start?: () => Promise<TestServer> }> = [{ name: 'memory' }, REDIS, MEMCACHED]

for (const backend of BACKENDS) {
  describe(`session store: ${backend.name}`, () => {
    let server: TestServer | undefined
    const stores: Store[] = []
    const open = (clock?: ManualClock) => {
      const store = createStore({ url: server?.url ?? 'memory://', keyPrefix: `t${stores.length}:`, ...(clock ? { clock } : {}) })
      stores.push(store)
      return store
    }
    before(async () => {
      server = await backend.start?.()
    })
    after(async () => {
      await Promise.all(stores.map((s) => s.close()))
      await server?.stop()
    })

    it('sets, gets, touches and deletes sessions', async () => {
      const sessions = createSessionStore<{ lang: string }>({ store: open() })
      const id = createSessionId()
      assert.match(id, /^[\w-]{32}$/)
      assert.equal(await sessions.get(id), undefined)
      await sessions.set(id, { lang: 'ru' })
      assert.deepEqual(await sessions.get(id), { lang: 'ru' })
      assert.equal(await sessions.touch(id), true)
      assert.equal(await sessions.touch('no-such-session'), false)
      assert.equal(await sessions.delete(id), true)
      assert.equal(await sessions.get(id), undefined)
    })

    it('create stores a session only if there is none', async () => {
      const sessions = createSessionStore<{ n: number }>({ store: open() })
      assert.equal(await sessions.create('c', { n: 1 }), true)
      assert.equal(await sessions.create('c', { n: 2 }), false)
      assert.deepEqual(await sessions.get('c'), { n: 1 }, 'the first one stays')
      await sessions.delete('c')
      assert.equal(await sessions.create('c', { n: 3 }), true)
      assert.deepEqual(await sessions.get('c'), { n: 3 })
    })

    it('validates ids and caps values', async () => {
      const sessions = createSessionStore({ store: open(), maxValueBytes: 100 })
      for (const id of ['', 'has space', 'a{b}', 'x'.repeat(257), 'new\nline', 42]) {
        await assert.rejects(sessions.get(id as string), { code: 'E_INVALID_SESSION_ID' })
      }
      await assert.rejects(sessions.set('ok', 'x'.repeat(200)), { code: 'E_VALUE_TOO_LARGE', maxBytes: 100 })
      await assert.rejects(sessions.set('ok', undefined), { code: 'E_INVALID_OPTION', option: 'value' })
      assert.throws(() => createSessionStore({ ttl: 0 }), { code: 'E_INVALID_OPTION', option: 'ttl' })
      assert.throws(() => createSessionStore({ prefix: 'a:b' }), { code: 'E_INVALID_OPTION', option: 'prefix' })
    })

    if (backend.name === 'memcached') {
      it('refuses update (no compare-and-set scripts) with E_UNSUPPORTED_BY_STORE', async () => {
        const sessions = createSessionStore({ store: open() })
        await assert.rejects(sessions.update('s', () => 1), { code: 'E_UNSUPPORTED_BY_STORE' })
      })
      return
    }

    it('update applies the function to the current value (undefined when new)', async () => {
      const sessions = createSessionStore<{ n: number }>({ store: open() })
      assert.deepEqual(await sessions.update('counter', (s) => ({ n: (s?.n ?? 0) + 1 })), { n: 1 })
      assert.deepEqual(await sessions.update('counter', (s) => ({ n: (s?.n ?? 0) + 1 })), { n: 2 })
      assert.deepEqual(await sessions.get('counter'), { n: 2 })
    })

    if (backend.name !== 'memory') return

    it('expires after ttl; sliding reads extend it, fixed ones do not', async () => {
      const clock = new ManualClock()
      const store = open(clock)
      const sliding = createSessionStore({ store, ttl: '10m', prefix: 'sliding' })
      const fixed = createSessionStore({ store, ttl: '10m', sliding: false, prefix: 'fixed' })
      await sliding.set('s', 1)
      await fixed.set('s', 1)
      for (let i = 0; i < 3; i++) {
        clock.advance(6 * 60_000)
        assert.equal(await sliding.get('s'), 1, 'read within its ttl: extended')
      }
      assert.equal(await fixed.get('s'), undefined, 'never extended: gone after 10 minutes')
      clock.advance(10 * 60_000 + 1)
      assert.equal(await sliding.get('s'), undefined)
    })
  })
}
