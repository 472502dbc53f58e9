import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway } from './helpers.js'

describe('methods, model names and stalled upstreams', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    gw = await startGateway(upstream.url, {
      passThrough: ['/v1/*'],
      upstreams: [
        { name: 'azure', baseUrl: `${upstream.url.replace('/v1', '')}/openai/deployments/{model}`, models: ['az-*', '../*', 'az/*'], timeout: '1s', maxRetries: 0 },
        { name: 'open', baseUrl: upstream.url, timeout: '1s', maxRetries: 0 },
      ],
    })
  })
  after(async () => {
    await gw.close()
    await upstream.close()
  })

  it('only POST reaches the LLM routes and only GET the model list: other methods get 405 with Allow, never pass-through', async () => {
    upstream.reset()
    for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']) {
        const response = await fetch(`${gw.url}${path}`, { method })
        assert.equal(response.status, 405, `${method} ${path}`)
        assert.equal(response.headers.get('allow'), 'POST')
        if (method !== 'HEAD') assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'method_not_allowed')
      }
    }
    const post = await fetch(`${gw.url}/v1/models`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.get('allow'), 'GET')
    assert.equal((await fetch(`${gw.url}/v1/models`)).status, 200)
    assert.equal(upstream.calls['/v1/chat/completions'], undefined, 'nothing was forwarded')
  })

  it('a model spliced into an upstream path must be one plain segment', async () => {
    upstream.reset()
    for (const model of ['../../admin', 'az/../../x']) {
      const response = await gw.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'x' }] })
      assert.equal(response.status, 400, model)
      assert.equal(((await response.json()) as { error: { code: string; param: string } }).error.param, 'model')
    }
    assert.deepEqual(upstream.calls, {})
    const fine = await gw.post('/v1/chat/completions', { model: 'az-gpt-4.1', messages: [{ role: 'user', content: 'x' }] })
    assert.equal(fine.status, 200)
    assert.equal(upstream.last?.url, '/openai/deployments/az-gpt-4.1/chat/completions')
  })

  it('models named like Object.prototype members are ordinary models with a finite cost', async () => {
    for (const model of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const response = await gw.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'proto' }] })
      assert.equal(response.status, 200, model)
      assert.ok(Number.isFinite(Number(response.headers.get('x-tollgate-cost-usd'))), model)
      await response.text()
    }
  })

  it('an upstream that stalls in the middle of its body is a 504, like one that stalls before its headers', async () => {
    for (const content of ['[stall-body]', '[slow:3000]']) {
      const response = await gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }, { 'cache-control': 'no-store' })
      assert.equal(response.status, 504, content)
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'upstream_timeout')
    }
  })
})
