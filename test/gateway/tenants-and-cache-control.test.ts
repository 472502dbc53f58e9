import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway, TWO_TENANTS } from './helpers.js'

const chat = (content: string, extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra })

describe('tenants, keys and per-request cache control', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    gw = await startGateway(upstream.url, {
      auth: 'keys',
      keys: TWO_TENANTS,
      cache: { sharedNamespaces: ['public'] },
    })
  })
  after(async () => {
    await gw.close()
    await upstream.close()
  })
  const as = (key: string, body: object, headers: Record<string, string> = {}) => gw.post('/v1/chat/completions', body, { authorization: `Bearer ${key}`, ...headers })
  const status = async (response: Promise<Response>) => {
    const r = await response
    await r.text()
    return r.headers.get('x-tollgate-cache')
  }

  it('refuses a missing or unknown key with 401 in the OpenAI shape', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic a2V5' }] as Array<Record<string, string>>) {
      const response = await gw.post('/v1/chat/completions', chat('hi'), headers)
      assert.equal(response.status, 401)
      const body = (await response.json()) as { error: { code: string; type: string } }
      assert.equal(body.error.code, 'invalid_api_key')
    }
    await assert.rejects(gw.client('wrong').chat.completions.create(chat('hi') as never), { status: 401 })
  })

  it('tenant B never gets tenant A’s entry; keys of one tenant share it', async () => {
    assert.equal(await status(as('key-a1', chat('secret plan'))), 'MISS')
    assert.equal(await status(as('key-a2', chat('secret plan'))), 'HIT')
    assert.equal(await status(as('key-b1', chat('secret plan'))), 'MISS')
    assert.equal(await status(as('key-b1', chat('secret plan'))), 'HIT')
  })

  it('a namespace named in the request stays inside the tenant unless the config shares it', async () => {
    assert.equal(await status(as('key-a1', chat('ns'), { 'x-tollgate-cache-namespace': 'docs' })), 'MISS')
    assert.equal(await status(as('key-b1', chat('ns'), { 'x-tollgate-cache-namespace': 'docs' })), 'MISS')
    assert.equal(await status(as('key-a1', chat('pub'), { 'x-tollgate-cache-namespace': 'public' })), 'MISS')
    assert.equal(await status(as('key-b1', chat('pub'), { 'x-tollgate-cache-namespace': 'public' })), 'HIT')
  })

  it('Cache-Control no-store bypasses, no-cache refreshes, max-age bounds the age', async () => {
    assert.equal(await status(as('key-a1', chat('cc'))), 'MISS')
    assert.equal(await status(as('key-a1', chat('cc'), { 'cache-control': 'no-store' })), 'BYPASS')
    assert.equal(await status(as('key-a1', chat('cc'), { 'cache-control': 'no-cache' })), 'MISS')
    assert.equal(await status(as('key-a1', chat('cc'), { 'cache-control': 'max-age=3600' })), 'HIT')
    await new Promise((resolve) => setTimeout(resolve, 1100))
    assert.equal(await status(as('key-a1', chat('cc'), { 'cache-control': 'max-age=0' })), 'MISS')
    assert.equal(await status(as('key-a1', chat('cc'))), 'HIT')
  })

  it('sampling several different answers (n > 1, temperature not 0) bypasses the cache', async () => {
    assert.equal(await status(as('key-a1', chat('many', { n: 2, temperature: 0.9 }))), 'BYPASS')
    assert.equal(await status(as('key-a1', chat('many', { n: 2, temperature: 0 }))), 'MISS')
  })

  it('x-tollgate-cache-ttl and -tags apply to the entry; invalidating a tag drops it', async () => {
    const headers = { 'x-tollgate-cache-ttl': '1', 'x-tollgate-cache-tags': 'prompt:v1, persona:x' }
    assert.equal(await status(as('key-a1', chat('tagged'), headers)), 'MISS')
    assert.equal(await status(as('key-a1', chat('tagged'), headers)), 'HIT')
    await gw.gateway.cache.namespaced('t/acme').invalidateTags(['prompt:v1'])
    assert.equal(await status(as('key-a1', chat('tagged'), headers)), 'MISS')
    await new Promise((resolve) => setTimeout(resolve, 1100))
    assert.equal(await status(as('key-a1', chat('tagged'), headers)), 'MISS', 'expired after its 1 s ttl')
    const bad = await as('key-a1', chat('tagged'), { 'x-tollgate-cache-ttl': 'soon' })
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, 'x-tollgate-cache-ttl')
  })
})
