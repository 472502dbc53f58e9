import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createCache, createSessionStore, createStore } from '../../../src/index.js'
import { tollgatePlugin } from '../../../src/integrations/fastify/index.js'
import { app, serve, statuses } from './helpers.js'

it('onClose closes the limiters it made and leaves the store, cache and session store it was given open', async () => {
  const store = createStore()
  const cacheStore = createStore()
  const cache = createCache({ store: cacheStore })
  const sessionStore = createSessionStore()
  const f = app()
  assert.equal(store.events.listening('ready'), false)
  await f.register(tollgatePlugin, { store, limit: 5, window: '1m', cache: { cache }, sessions: { sessionStore } })
  f.get('/', { config: { rateLimit: { limit: 2 } } }, async () => 'ok')
  await f.ready()
  assert.equal(store.events.listening('ready'), true, 'the limiters watch the store')
  await f.close()
  assert.equal(store.events.listening('ready'), false, 'closed limiters stop watching it')
  await store.set('still', 'open')
  assert.equal((await store.get('still'))?.toString(), 'open')
  await cache.set('k', 1)
  assert.equal(await cache.get('k'), 1)
  await sessionStore.set('s', { a: 1 })
  assert.deepEqual(await sessionStore.get('s'), { a: 1 })
  await cache.close()
  await sessionStore.close()
  await cacheStore.close()
  await store.close()
})

it('registered inside a child context, it limits only that context (encapsulation)', async () => {
  const f = app()
  try {
    await f.register(async (child) => {
      await child.register(tollgatePlugin, { limit: 1, window: '1m' })
      child.get('/inside', async () => 'in')
    })
    f.get('/outside', async () => 'out')
    const url = await serve(f)
    assert.deepEqual(await statuses(`${url}/inside`, 2), [200, 429])
    assert.deepEqual(await statuses(`${url}/outside`, 3), [200, 200, 200])
  } finally {
    await f.close()
  }
})
