import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Cache, createCache } from '../../../src/index.js'
import { tollgatePlugin } from '../../../src/integrations/fastify/index.js'
import { app, serve } from './helpers.js'

let cache: Cache
let url: string
const f = app()
const calls = new Map<string, number>()
const count = (name: string) => {
  calls.set(name, (calls.get(name) ?? 0) + 1)
  return calls.get(name) as number
}

before(async () => {
  cache = createCache({ ttl: '1m' })
  await f.register(tollgatePlugin, { global: false, cache: { cache, vary: ['accept-language'] } })
  f.get('/plain', { config: { cache: true } }, async () => ({ n: count('plain') }))
  f.get('/query', { config: { cache: true } }, async (request) => ({ n: count('query'), q: request.query }))
  f.get('/no-store', { config: { cache: true } }, async (_request, reply) => reply.header('cache-control', 'no-store').send({ n: count('no-store') }))
  f.get('/private', { config: { cache: true } }, async (_request, reply) => reply.header('cache-control', 'private, max-age=60').send({ n: count('private') }))
  f.get('/zero', { config: { cache: true } }, async (_request, reply) => reply.header('cache-control', 'max-age=0').send({ n: count('zero') }))
  f.get('/not-found', { config: { cache: true } }, async (_request, reply) => reply.code(404).send({ n: count('not-found') }))
  f.get('/cookie', { config: { cache: true } }, async (_request, reply) => reply.header('set-cookie', 'a=1').send({ n: count('cookie') }))
  f.get('/vary-other', { config: { cache: true } }, async (_request, reply) => reply.header('vary', 'x-tenant').send({ n: count('vary-other') }))
  f.get('/vary-route', { config: { cache: { vary: ['x-tenant'] } } }, async (request) => ({ n: count('vary-route'), tenant: request.headers['x-tenant'] }))
  f.get('/uncached', async () => ({ n: count('uncached') }))
  f.post('/plain', { config: { cache: true } }, async () => ({ n: count('post') }))
  url = await serve(f)
})
after(async () => {
  await f.close()
  await cache.close()
})

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: { n: number }; headers: Headers }> {
  const response = await fetch(`${url}${path}`, { headers })
  return { status: response.status, body: (await response.json()) as { n: number }, headers: response.headers }
}

describe('Fastify response caching', () => {
  it('serves a GET from the cache the second time, with x-cache, Age and Vary on what the key uses', async () => {
    const first = await get('/plain')
    const second = await get('/plain')
    assert.equal(first.headers.get('x-cache'), 'MISS')
    assert.equal(second.headers.get('x-cache'), 'HIT')
    assert.equal(second.body.n, first.body.n)
    assert.equal(second.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.ok(Number(second.headers.get('age')) >= 0)
    assert.equal(first.headers.get('vary'), 'accept-language')
    assert.equal(second.headers.get('vary'), 'accept-language')
  })

  it('keys on the vary headers and on the query, whatever the order of its parameters', async () => {
    const en = await get('/query?a=1&b=2', { 'accept-language': 'en' })
    assert.equal((await get('/query?b=2&a=1', { 'accept-language': 'en' })).body.n, en.body.n)
    assert.notEqual((await get('/query?a=1&b=2', { 'accept-language': 'fr' })).body.n, en.body.n)
    assert.notEqual((await get('/query?a=1&b=3', { 'accept-language': 'en' })).body.n, en.body.n)
  })

  it('honours the request: no-cache refreshes the entry, no-store bypasses it, max-age bounds its age', async () => {
    const first = await get('/plain')
    const refreshed = await get('/plain', { 'cache-control': 'no-cache' })
    assert.equal(refreshed.headers.get('x-cache'), 'MISS')
    assert.notEqual(refreshed.body.n, first.body.n)
    assert.equal((await get('/plain')).body.n, refreshed.body.n, 'the refreshed response replaced the entry')
    const bypass = await get('/plain', { 'cache-control': 'no-store' })
    assert.equal(bypass.headers.get('x-cache'), 'BYPASS')
    assert.notEqual(bypass.body.n, refreshed.body.n)
    assert.equal((await get('/plain')).body.n, refreshed.body.n, 'a bypassed response is not stored')
  })

  it('does not answer a request with Authorization from the shared cache unless the key varies on it', async () => {
    const anonymous = await get('/plain')
    const authorized = await get('/plain', { authorization: 'Bearer someone' })
    assert.equal(authorized.headers.get('x-cache'), 'BYPASS')
    assert.notEqual(authorized.body.n, anonymous.body.n)
  })

  it('does not store no-store, private, max-age=0, non-200, Set-Cookie, or Vary outside the key', async () => {
    for (const path of ['/no-store', '/private', '/zero', '/not-found', '/cookie', '/vary-other']) {
      const first = await get(path)
      const second = await get(path)
      assert.equal(second.headers.get('x-cache'), 'MISS', path)
      assert.equal(second.body.n, first.body.n + 1, path)
    }
  })

  it('takes max-age from the response as the TTL', async () => {
    const ttls: number[] = []
    const own = createCache()
    const g = app()
    try {
      const set = own.set.bind(own)
      own.set = async (key, value, options) => {
        ttls.push(Number(options?.ttl))
        return set(key, value, options)
      }
      await g.register(tollgatePlugin, { global: false, cache: { cache: own, ttl: '10m' } })
      g.get('/a', { config: { cache: true } }, async (_request, reply) => reply.header('cache-control', 'public, max-age=30, s-maxage=90').send('a'))
      g.get('/b', { config: { cache: true } }, async (_request, reply) => reply.header('cache-control', 'max-age=30').send('b'))
      g.get('/c', { config: { cache: true } }, async () => 'c')
      const base = await serve(g)
      for (const path of ['/a', '/b', '/c']) await (await fetch(`${base}${path}`)).text()
      assert.deepEqual(ttls, [90_000, 30_000, 600_000])
    } finally {
      await g.close()
      await own.close()
    }
  })

  it('caches only GET routes that ask (or all with global), with a route vary of its own', async () => {
    assert.equal((await get('/uncached')).headers.get('x-cache'), null)
    const post = await fetch(`${url}/plain`, { method: 'POST' })
    assert.equal(post.headers.get('x-cache'), null)
    await post.arrayBuffer()
    const a = await get('/vary-route', { 'x-tenant': 'a' })
    assert.equal(a.headers.get('vary'), 'x-tenant')
    assert.equal((await get('/vary-route', { 'x-tenant': 'a' })).headers.get('x-cache'), 'HIT')
    assert.equal((await get('/vary-route', { 'x-tenant': 'b' })).headers.get('x-cache'), 'MISS')
  })
})
