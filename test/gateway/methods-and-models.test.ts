import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway, TWO_TENANTS, useGateway, within } from './helpers.js'

/** Sends `request` as it is on a socket and resolves with what came back before the gateway closed it. */
async function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname, () => socket.end(request))
  let text = ''
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
  await within(once(socket, 'close'), 'the reply')
  return text
}

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

  it('methods without a route of their own (TRACE, QUERY, PROPFIND) on an LLM route get 405 too; HEAD is named as HEAD', async () => {
    for (const method of ['TRACE', 'QUERY', 'PROPFIND', 'SEARCH']) {
      const reply = await raw(gw.url, `${method} /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      assert.match(reply, /^HTTP\/1.1 405/, method)
      assert.match(reply, /allow: POST/i, method)
    }
    const head = await raw(gw.url, 'HEAD /v1/embeddings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.match(head, /^HTTP\/1.1 405/)
    const get = await fetch(`${gw.url}/v1/embeddings`)
    assert.match(((await get.json()) as { error: { message: string } }).error.message, /^GET is not allowed/)
  })

  it('spellings that servers resolve to an LLM route (;params, trailing dots and spaces, control characters) are refused, not passed through', async () => {
    upstream.reset()
    for (const path of ['/v1/chat/completions;x', '/v1/chat/completions;', '/v1/chat/completions.', '/v1/chat/completions%20', '/v1/chat/completions%00', '/v1/chat/completions%09', '/v1/embeddings;', '/v1/Chat/Completions.%20', '/v1/chat/completions:', '/v1/chat/completions~', '/v1/chat/completions%E2%80%8B', '/v1/chat/completions%C2%85', '/v1/chat/completion%C5%BF', '/v1/chat/completions%23']) {
      const response = await gw.post(path, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      assert.equal(response.status, 400, path)
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'invalid_path', path)
    }
    assert.deepEqual(upstream.calls, {}, 'nothing was forwarded')
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

describe('request targets and authentication', () => {
  const env = useGateway({ keys: TWO_TENANTS })

  it('an absolute-form request target meets the same authentication (401), never a 500', async () => {
    for (const target of ['http://x/v1/chat/completions', 'http://x/v1/models']) {
      const method = target.endsWith('models') ? 'GET' : 'POST'
      const body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}'
      const reply = await raw(env.gw.url, `${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${method === 'POST' ? body : ''}`)
      assert.match(reply, /^HTTP\/1.1 401/, target)
    }
    assert.deepEqual(env.upstream.calls, {})
  })
})
