import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway } from './helpers.js'

const keys = [
  { name: 'a1', hash: hashKey('key-a1'), tenant: 'acme' },
  { name: 'a2', hash: hashKey('key-a2'), tenant: 'acme' },
]
const chat = (content: string, user?: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...(user ? { user } : {}) })

describe('cache scope and cache headers', () => {
  let upstream: FakeUpstream
  const gateways: Record<string, RunningGateway> = {}
  before(async () => {
    upstream = await startFakeUpstream()
    for (const scope of ['tenant', 'user', 'key']) gateways[scope] = await startGateway(upstream.url, { auth: 'keys', keys, cache: { scope } })
    gateways.hidden = await startGateway(upstream.url, { auth: 'keys', keys, cache: { exposeHeaders: false } })
  })
  after(async () => {
    await Promise.all(Object.values(gateways).map((gw) => gw.close()))
    await upstream.close()
  })
  const status = async (gw: RunningGateway, key: string, body: object, headers: Record<string, string> = {}) => {
    const response = await gw.post('/v1/chat/completions', body, { authorization: `Bearer ${key}`, ...headers })
    await response.text()
    return response.headers.get('x-tollgate-cache')
  }

  it('tenant (the default): every end user and key of a tenant shares entries', async () => {
    const gw = gateways.tenant!
    assert.equal(await status(gw, 'key-a1', chat('shared', 'alice')), 'MISS')
    assert.equal(await status(gw, 'key-a2', chat('shared', 'bob')), 'HIT')
  })

  it('user: another end user of the same tenant cannot probe what alice asked, by the user field or the header', async () => {
    const gw = gateways.user!
    assert.equal(await status(gw, 'key-a1', chat('my diagnosis', 'alice')), 'MISS')
    assert.equal(await status(gw, 'key-a1', chat('my diagnosis', 'bob')), 'MISS')
    assert.equal(await status(gw, 'key-a2', chat('my diagnosis', 'alice')), 'HIT', 'alice through another key of her tenant')
    assert.equal(await status(gw, 'key-a1', chat('my diagnosis'), { 'x-tollgate-user': 'alice' }), 'HIT', 'the header names the same user')
    assert.equal(await status(gw, 'key-a1', chat('my diagnosis')), 'MISS', 'requests without a user share a space of their own')
    const long = 'u'.repeat(5_000)
    assert.equal(await status(gw, 'key-a1', chat('long user ids', long), { 'x-tollgate-cache-namespace': 'n'.repeat(64) }), 'MISS')
    assert.equal(await status(gw, 'key-a1', chat('long user ids', long), { 'x-tollgate-cache-namespace': 'n'.repeat(64) }), 'HIT')
  })

  it('key: each gateway key has entries of its own', async () => {
    const gw = gateways.key!
    assert.equal(await status(gw, 'key-a1', chat('per key')), 'MISS')
    assert.equal(await status(gw, 'key-a2', chat('per key')), 'MISS')
    assert.equal(await status(gw, 'key-a1', chat('per key')), 'HIT')
  })

  it('exposeHeaders: false hides whether a reply was a hit, and what it saved or cost', async () => {
    const gw = gateways.hidden!
    for (let i = 0; i < 2; i++) {
      const response = await gw.post('/v1/chat/completions', chat('quiet'), { authorization: 'Bearer key-a1' })
      await response.text()
      for (const name of ['x-tollgate-cache', 'age', 'x-tollgate-saved-usd', 'x-tollgate-cost-usd']) assert.equal(response.headers.get(name), null, name)
    }
    assert.equal(upstream.calls['/v1/chat/completions'] !== undefined, true)
  })

  it('rejects an unknown scope at start', async () => {
    await assert.rejects(startGateway(upstream.url, { cache: { scope: 'everyone' } }), { code: 'E_CONFIG', path: 'cache.scope' })
  })
})
