import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { readRest, type RunningGateway, startGateway, within } from './helpers.js'


describe('pass-through: deny by default, allowlisted routes limited, forwarded faithfully and streamed', () => {
  let upstream: FakeUpstream
  let open: RunningGateway
  let strict: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    const keys = [{ name: 'k1', hash: hashKey('key-1'), tenant: 'acme' }]
    strict = await startGateway(upstream.url, { auth: 'keys', keys })
    open = await startGateway(upstream.url, {
      auth: 'keys',
      keys,
      passThrough: ['/v1/files/*', '/v1/responses', '/v1/hold'],
      limits: { requests: { limit: 4, window: '1m' } },
    })
  })
  after(async () => {
    await Promise.all([open.close(), strict.close()])
    await upstream.close()
  })
  const auth = { authorization: 'Bearer key-1' }

  it('refuses every other /v1 path by default with a 404 naming passThrough, calling nothing upstream', async () => {
    upstream.reset()
    for (const [method, path] of [['GET', '/v1/files'], ['POST', '/v1/batches'], ['DELETE', '/v1/files/f1'], ['POST', '/v1/responses']]) {
      const response = await fetch(`${strict.url}${path}`, { method, headers: auth })
      assert.equal(response.status, 404, `${method} ${path}`)
      const body = (await response.json()) as { error: { code: string; message: string } }
      assert.equal(body.error.code, 'not_found')
      assert.match(body.error.message, /passThrough/)
    }
    assert.deepEqual(upstream.calls, {})
  })

  it('forwards the method, the query string and the safe headers, never the client key or tollgate headers', async () => {
    const response = await fetch(`${open.url}/v1/files/file-1?purpose=batch&limit=2`, {
      method: 'DELETE',
      headers: { ...auth, 'openai-beta': 'assistants=v2', 'x-tollgate-user': 'u1', cookie: 'session=1' },
    })
    assert.equal(response.status, 200)
    assert.deepEqual(await response.json(), { method: 'DELETE', path: '/v1/files/file-1', query: 'purpose=batch&limit=2', body: '' })
    assert.equal(upstream.last?.headers['openai-beta'], 'assistants=v2')
    assert.equal(upstream.last?.headers.authorization, 'Bearer upstream-secret', 'the upstream key, not the gateway key')
    assert.equal(upstream.last?.headers['x-tollgate-user'], undefined)
    assert.equal(upstream.last?.headers.cookie, undefined)
  })

  it('each allowed request counts against the key’s request limit; past it, a 429', async () => {
    const limited = await startGateway(upstream.url, {
      auth: 'keys',
      keys: [{ name: 'k2', hash: hashKey('key-2'), tenant: 'acme' }],
      passThrough: ['/v1/responses'],
      limits: { requests: { limit: 2, window: '1m' } },
    })
    try {
      const send = () => fetch(`${limited.url}/v1/responses`, { method: 'POST', headers: { authorization: 'Bearer key-2', 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini","input":"hi"}' })
      const statuses = []
      for (let i = 0; i < 3; i++) {
        const response = await send()
        await response.text()
        statuses.push(response.status)
        if (response.status === 200) assert.equal(response.headers.get('x-ratelimit-limit-requests'), '2')
        else assert.ok(Number(response.headers.get('retry-after')) > 0)
      }
      assert.deepEqual(statuses, [200, 200, 429])
      const line = limited.gateway.ledger.lines().find((l) => l.model === 'pass-through /v1/responses')
      assert.equal(line?.upstreamCalls, 2, 'recorded in the ledger')
      // The LLM routes share the same request limit: the key is spent.
      const chat = await limited.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, { authorization: 'Bearer key-2' })
      assert.equal(chat.status, 429)
    } finally {
      await limited.close()
    }
  })

  it('streams the upstream reply instead of buffering it', async () => {
    const response = await fetch(`${open.url}/v1/hold`, { headers: auth })
    const reader = response.body!.getReader()
    const first = await within(reader.read(), 'the first line, before the upstream finished')
    assert.equal(Buffer.from(first.value!).toString(), 'first\n')
    upstream.release()
    assert.equal(await readRest(reader), 'second\n')
  })
})

describe('pass-through paths are confined, bodies forwarded as sent', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  let everything: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    gw = await startGateway(upstream.url, { passThrough: ['/v1/responses', '/v1/audio/*', '/v1/files*'], cache: { exposeHeaders: false } })
    everything = await startGateway(upstream.url, { passThrough: ['/v1/*'], limits: { tokens: { limit: 10, window: '1h' } } })
  })
  after(async () => {
    await Promise.all([gw.close(), everything.close()])
    await upstream.close()
  })
  /** A request with its path exactly as written: fetch would resolve dot segments before sending. */
  const raw = (base: string, method: string, path: string, body = '') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(base)
      const request = httpRequest({ host: hostname, port, method, path, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
        let text = ''
        response.on('data', (chunk: Buffer) => (text += chunk.toString()))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }))
      })
      request.on('error', reject)
      request.end(body)
    })

  it('dot segments, encoded slashes, backslashes and empty segments never reach the upstream', async () => {
    upstream.reset()
    const escapes = ['/v1/audio/../chat/completions', '/v1/audio/%2e%2e/chat/completions', '/v1/audio/..%2fbatches', '/v1/audio/%2E%2E%2Fbatches', '/v1/audio/\\..\\batches', '/v1/files/../batches', '/v1/audio//x', '/v1/audio/./x', '/v1/audio/x/%2e%2e%2f%2e%2e%2fbatches']
    for (const path of escapes) {
      const response = await raw(gw.url, 'POST', path, '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}')
      assert.equal(response.status, 400, path)
      assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, 'invalid_path', path)
    }
    assert.deepEqual(upstream.calls, {}, 'nothing went upstream')
  })

  it('with /v1/* allowed, no spelling of an LLM route is served as pass-through', async () => {
    upstream.reset()
    const body = '{"model":"gpt-4o-mini","max_tokens":100000,"messages":[{"role":"user","content":"x"}]}'
    for (const path of ['/v1/chat/completions/', '/v1//chat/completions', '/v1/chat/./completions', '/v1/x/../chat/completions', '/v1/embeddings/', '/v1/completions/', '/v1/Chat/Completions', '/v1/ch%61t/completions']) {
      const response = await raw(everything.url, 'POST', path, body)
      // Refused, or (Fastify decodes %61) routed to the real LLM route with its limits: 429 here.
      assert.ok([400, 404, 429].includes(response.status), `${path}: ${response.status}`)
    }
    assert.deepEqual(upstream.calls, {})
    const direct = await raw(everything.url, 'POST', '/v1/chat/completions', body)
    assert.equal(direct.status, 429, 'the real route applies the token limit')
  })

  it('forwards the body byte for byte, big numbers, duplicate keys and all; an empty JSON body is no body', async () => {
    const body = '{"seed":12345678901234567890,"y":"a","y":"b","__proto__":{"x":1}}'
    const response = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    assert.equal(response.status, 200)
    assert.equal(((await response.json()) as { body: string }).body, body)
    const deleted = await fetch(`${gw.url}/v1/files/f1?x=1`, { method: 'DELETE', headers: { 'content-type': 'application/json' } })
    assert.equal(deleted.status, 200)
    assert.equal(deleted.headers.get('x-tollgate-cache'), null, 'exposeHeaders: false hides the cache header here too')
  })
})
