import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway } from './helpers.js'

const chat = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] })

describe('upstream errors', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    gw = await startGateway(upstream.url, { upstreams: [{ name: 'fake', baseUrl: upstream.url, maxRetries: 2, timeout: '300ms' }] })
  })
  after(async () => {
    await gw.close()
    await upstream.close()
  })

  it('passes an upstream 4xx through with its status and body, unretried and uncached', async () => {
    upstream.reset()
    const response = await gw.post('/v1/chat/completions', chat('bad [fail:400]'))
    assert.equal(response.status, 400)
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'fake_failure')
    assert.equal(upstream.calls['/v1/chat/completions'], 1)
    assert.equal((await gw.post('/v1/chat/completions', chat('bad [fail:400]'))).status, 400)
  })

  it('retries a 500 (bounded), then passes it through', async () => {
    upstream.reset()
    const response = await gw.post('/v1/chat/completions', chat('broken [fail:500]'))
    assert.equal(response.status, 500)
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'fake_failure')
    assert.equal(upstream.calls['/v1/chat/completions'], 3, 'one call and two retries')
  })

  it('a 429 or 503 that clears on retry (Retry-After: 0) never reaches the client', async () => {
    for (const status of [429, 503]) {
      const reply = await gw.client().chat.completions.create(chat(`flaky [fail-once:${status}]`) as never)
      assert.equal((reply as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content, `echo flaky t=none`)
    }
  })

  it('an upstream slower than its timeout becomes a 504', async () => {
    const response = await gw.post('/v1/chat/completions', chat('slow [slow:1500]'))
    assert.equal(response.status, 504)
    const body = (await response.json()) as { error: { code: string; type: string } }
    assert.deepEqual([body.error.code, body.error.type], ['upstream_timeout', 'api_error'])
  })

  it('an unreachable upstream becomes a 502', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number }
        probe.close(() => resolve(port))
      })
    })
    const dead = await startGateway(`http://127.0.0.1:${port}/v1`)
    try {
      const response = await dead.post('/v1/chat/completions', chat('anyone?'))
      assert.equal(response.status, 502)
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'upstream_unreachable')
    } finally {
      await dead.close()
    }
  })
})
