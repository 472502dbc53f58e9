import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createCache } from '../../../src/index.js'
import { tollgatePlugin, type TollgateFastifyOptions } from '../../../src/integrations/fastify/index.js'
import { app } from './helpers.js'

async function registrationError(options: unknown, routes?: (f: ReturnType<typeof app>) => void): Promise<{ code: string; option: string }> {
  const f = app()
  try {
    await f.register(tollgatePlugin, options as TollgateFastifyOptions)
    routes?.(f)
    await f.ready()
  } catch (err) {
    return err as { code: string; option: string }
  } finally {
    await f.close().catch(() => {})
  }
  throw new Error('no error at setup')
}

it('bad plugin options throw E_INVALID_OPTION at registration, naming the option', async () => {
  const cases: Array<[unknown, string]> = [
    [{ limit: 0 }, 'limit'],
    [{ window: 'soon' }, 'window'],
    [{ limit: 5, rules: [{ limit: 1, window: '1s' }] }, 'rules'],
    [{ max: 100 }, 'max'],
    [{ timeWindow: 1000 }, 'timeWindow'],
    [{ standardHeaders: 'draft-9' }, 'standardHeaders'],
    [{ keyGenerator: 'ip' }, 'keyGenerator'],
    [{ allowList: 'admin' }, 'allowList'],
    [{ hook: 'onResponse' }, 'hook'],
    [{ cache: { vary: ['accept'] } }, 'cache.cache'],
    [{ sessions: { secret: 'short' } }, 'sessions.secret'],
    [{ sessions: { cookie: { sameSite: 'sometimes' } } }, 'sessions.cookie.sameSite'],
    [{ limt: 5 }, 'limt'],
  ]
  for (const [options, option] of cases) {
    const err = await registrationError(options)
    assert.equal(err.code, 'E_INVALID_OPTION', JSON.stringify(options))
    assert.equal(err.option, option)
  }
})

it('a bad route config throws when the route is registered, not on its first request', async () => {
  const bad = await registrationError({ limit: 5 }, (f) => f.get('/x', { config: { rateLimit: { limit: -1 } } }, async () => 'x'))
  assert.equal(bad.code, 'E_INVALID_OPTION')
  assert.equal(bad.option, 'config of GET /x.rateLimit.limit')
  const unknown = await registrationError({}, (f) => f.get('/y', { config: { rateLimit: { windw: '1s' } as never } }, async () => 'y'))
  assert.equal(unknown.option, 'config of GET /y.rateLimit.windw')
  const notObject = await registrationError({}, (f) => f.get('/z', { config: { rateLimit: 10 as never } }, async () => 'z'))
  assert.equal(notObject.option, 'config of GET /z.rateLimit')
  const noCache = await registrationError({}, (f) => f.get('/c', { config: { cache: true } }, async () => 'c'))
  assert.equal(noCache.option, 'config of GET /c.cache')
  const cache = createCache()
  const badVary = await registrationError({ cache: { cache } }, (f) => f.get('/v', { config: { cache: { vary: ['bad header'] } } }, async () => 'v'))
  assert.equal(badVary.option, 'config of GET /v.cache.vary.0')
  await cache.close()
})
