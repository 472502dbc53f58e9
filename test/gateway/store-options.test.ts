import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createGateway, parseConfig } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { freePort } from '../harness/processes.js'
import { startGateway } from './helpers.js'

describe('store options in the gateway config', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream.close())

  it('limits.instances divides the limit while the store is down: each instance allows its share', async () => {
    const down = `redis://127.0.0.1:${await freePort()}`
    const gw = await startGateway(upstream.url, {
      store: { url: down, commandTimeout: '50ms', connectTimeout: '100ms', reconnectMaxDelay: '200ms', closeTimeout: '100ms' },
      limits: { requests: { limit: 10, window: '1h' }, instances: 2 },
    })
    try {
      const statuses: number[] = []
      for (let i = 0; i < 8; i++) {
        const response = await gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `share ${i}` }] })
        await response.text()
        statuses.push(response.status)
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429], 'limit 10 over 2 instances: 5 here')
    } finally {
      await gw.close()
    }
  })

  it('a TLS file that cannot be read stops the start, naming the field', () => {
    const config = parseConfig({
      upstreams: [{ name: 'u', baseUrl: upstream.url }],
      store: { url: 'rediss://127.0.0.1:6380', tls: { caFile: '/nonexistent/ca.pem' } },
    })
    assert.throws(() => createGateway(config), { code: 'E_CONFIG', path: 'store.tls.caFile' })
  })

  it('unknown store fields are refused', () => {
    assert.throws(() => parseConfig({ upstreams: [{ name: 'u', baseUrl: upstream.url }], store: { url: 'memory://', comandTimeout: '1s' } }), { code: 'E_CONFIG', path: 'store.comandTimeout' })
  })

  it('a timeout past the longest Node timer (24.8 days) is refused, naming the field, for the store, the server and an upstream', () => {
    const upstreams = [{ name: 'u', baseUrl: upstream.url }]
    assert.throws(() => parseConfig({ upstreams, store: { url: 'memory://', commandTimeout: '30d' } }), { code: 'E_CONFIG', path: 'store.commandTimeout' })
    assert.throws(() => parseConfig({ upstreams, limits: { store: { url: 'memory://', connectTimeout: '30d' } } }), { code: 'E_CONFIG', path: 'limits.store.connectTimeout' })
    assert.throws(() => parseConfig({ upstreams, server: { idleTimeout: '25d' } }), { code: 'E_CONFIG', path: 'server.idleTimeout' })
    assert.throws(() => parseConfig({ upstreams: [{ ...upstreams[0], deadline: '40d' }] }), { code: 'E_CONFIG', path: 'upstreams.0.deadline' })
  })

  it('an option the store itself refuses stops the start naming the config field, not a bare option name', () => {
    const upstreams = [{ name: 'u', baseUrl: upstream.url }]
    assert.throws(() => createGateway(parseConfig({ upstreams, store: { url: 'ftp://x' } })), { code: 'E_CONFIG', path: 'store.url' })
    assert.throws(() => createGateway(parseConfig({ upstreams, limits: { store: { url: 'memory://', keyPrefix: 'p'.repeat(300) } } })), { code: 'E_CONFIG', path: 'limits.store.keyPrefix' })
  })
})
