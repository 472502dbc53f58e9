import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, it } from 'node:test'
import { hashKey, parseConfig } from '../../src/index.js'
import { maskUrl, parseStoreUrl } from '../../src/stores/url.js'
import { useGateway } from './helpers.js'

const chat = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] })

describe('the small ones: errors a client or an operator sees', () => {
  const env = useGateway({ auth: 'keys', keys: [{ name: 'k', hash: hashKey('key-k'), tenant: 'acme' }], server: { port: 0, bodyLimit: 2048, shutdownTimeout: '5s' } })
  const auth = { authorization: 'Bearer key-k' }

  it('x-tollgate-cache-ttl above the cache’s maximum is a 400 naming the header, not a 500', async () => {
    for (const ttl of ['2592001', '999999999']) {
      const response = await env.gw.post('/v1/chat/completions', chat('ttl'), { ...auth, 'x-tollgate-cache-ttl': ttl })
      assert.equal(response.status, 400)
      assert.equal(((await response.json()) as { error: { param: string } }).error.param, 'x-tollgate-cache-ttl')
    }
    const fine = await env.gw.post('/v1/chat/completions', chat('ttl'), { ...auth, 'x-tollgate-cache-ttl': '2592000' })
    assert.equal(fine.status, 200)
  })

  it('an upstream 429 or 5xx passed on keeps its Retry-After and request id', async () => {
    for (const status of [429, 503]) {
      const response = await env.gw.post('/v1/chat/completions', chat(`[fail:${status}]`), auth)
      await response.text()
      assert.equal(response.status, status)
      assert.equal(response.headers.get('x-request-id'), `req_fail_${status}`)
      if (status === 429) assert.equal(response.headers.get('retry-after'), '30')
    }
  })

  it('Fastify’s internal codes never reach the OpenAI code field', async () => {
    const cases: Array<[string, Record<string, string>, string]> = [
      ['{"model":', { 'content-type': 'application/json' }, 'invalid_json'],
      [JSON.stringify(chat('x'.repeat(4096))), { 'content-type': 'application/json' }, 'request_too_large'],
      ['', { 'content-type': 'application/json' }, 'invalid_json'],
    ]
    for (const [body, headers, code] of cases) {
      const response = await fetch(`${env.gw.url}/v1/chat/completions`, { method: 'POST', headers: { ...auth, ...headers }, body })
      const error = ((await response.json()) as { error: { code: string } }).error
      assert.ok(response.status >= 400 && response.status < 500)
      assert.equal(error.code, code)
      assert.doesNotMatch(JSON.stringify(error), /fst_err|FST_ERR/i)
    }
  })

  it('authentication comes before validation: an unauthenticated caller learns nothing about its body', async () => {
    for (const body of ['{"model":', JSON.stringify({ model: 42 }), JSON.stringify(chat('x'.repeat(4096)))]) {
      const response = await fetch(`${env.gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      assert.equal(response.status, 401)
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'invalid_api_key')
    }
  })

  it('duplicate key names are refused at start', () => {
    assert.throws(
      () => parseConfig({ upstreams: [{ name: 'u', baseUrl: 'http://127.0.0.1:9/v1' }], auth: 'keys', keys: [{ name: 'k', hash: hashKey('a'), tenant: 't' }, { name: 'k', hash: hashKey('b'), tenant: 't' }] }),
      { code: 'E_CONFIG', path: 'keys.1.name' },
    )
  })

  it('secrets in store URLs are masked wherever a URL is printed', () => {
    assert.equal(parseStoreUrl('redis+sentinel://h1:26379,h2:26379/mymaster?sentinelPassword=s3cret&db=2').safe, 'redis+sentinel://h1:26379,h2:26379/mymaster?sentinelPassword=***&db=2')
    assert.equal(maskUrl('rediss://user:pw@h:6380/0?tlsKey=abc&x=1'), 'rediss://***@h:6380/0?tlsKey=***&x=1')
    assert.equal(maskUrl('https://api.example.com/v1?api-key=k&api-version=2024'), 'https://api.example.com/v1?api-key=***&api-version=2024')
  })
})

describe('config refuses what would silently weaken the gateway', () => {
  const upstreams = [{ name: 'u', baseUrl: 'http://127.0.0.1:9/v1' }]
  const keys = [{ name: 'k', hash: hashKey('a'), tenant: 't' }]

  it('keys imply auth: keys; auth: none beside keys is an error', () => {
    assert.equal(parseConfig({ upstreams, keys }).auth, 'keys')
    assert.equal(parseConfig({ upstreams }).auth, 'none')
    assert.throws(() => parseConfig({ upstreams, keys, auth: 'none' }), { code: 'E_CONFIG', path: 'auth' })
  })

  it('duplicate upstream names, and a baseUrl carrying credentials, a query or not http(s)', () => {
    assert.throws(() => parseConfig({ upstreams: [upstreams[0], upstreams[0]] }), { code: 'E_CONFIG', path: 'upstreams.1.name' })
    for (const baseUrl of ['http://user:secret@127.0.0.1:9/v1', 'http://127.0.0.1:9/v1?key=secret', 'ftp://127.0.0.1/v1']) {
      assert.throws(() => parseConfig({ upstreams: [{ name: 'u', baseUrl }] }), { code: 'E_CONFIG', path: 'upstreams.0.baseUrl' }, baseUrl)
    }
  })
})

describe('what Node and Fastify refuse before a route runs is OpenAI-shaped too', () => {
  const env = useGateway({ auth: 'keys', keys: [{ name: 'k', hash: hashKey('key-k'), tenant: 'acme' }] })

  /** Raw bytes on a socket: what an HTTP client library would refuse to send. */
  const send = (bytes: string) =>
    new Promise<string>((resolve, reject) => {
      const { hostname, port } = new URL(env.gw.url)
      const socket = connect(Number(port), hostname, () => socket.end(bytes))
      let text = ''
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
      socket.on('end', () => resolve(text))
      socket.on('error', reject)
    })
  const errorOf = (reply: string) => JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string; type: string } }

  it('a malformed URL, huge headers and a lying Content-Length', async () => {
    const badUrl = await send('GET /v1/%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-k\r\nConnection: close\r\n\r\n')
    assert.match(badUrl, /^HTTP\/1.1 400/)
    assert.equal(errorOf(badUrl).error.code, 'invalid_url')
    const huge = await send(`GET /healthz HTTP/1.1\r\nHost: x\r\nx-tollgate-user: ${'u'.repeat(70_000)}\r\n\r\n`)
    assert.match(huge, /^HTTP\/1.1 431/)
    assert.equal(errorOf(huge).error.code, 'headers_too_large')
    const lying = await send('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}')
    assert.match(lying, /^HTTP\/1.1 400/)
    assert.equal(errorOf(lying).error.type, 'invalid_request_error')
    for (const reply of [badUrl, huge, lying]) assert.doesNotMatch(reply, /FST_|statusCode/)
  })

  it('JSON nested thousands of levels deep is a 400 naming the field, never a 500', async () => {
    for (const field of ['response_format', 'metadata', 'messages']) {
      const deep = `${'['.repeat(5_000)}1${']'.repeat(5_000)}`
      const body = `{"model":"gpt-4o-mini","messages":${field === 'messages' ? `[{"role":"user","content":${deep}}]` : '[{"role":"user","content":"x"}]'}${field === 'messages' ? '' : `,"${field}":${deep}`}}`
      const response = await fetch(`${env.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer key-k', 'content-type': 'application/json' }, body })
      assert.equal(response.status, 400, field)
      const error = ((await response.json()) as { error: { param: string; message: string } }).error
      assert.equal(error.param, field)
      assert.match(error.message, /deeper than 64/)
    }
  })

  it('a body of more JSON values than maxJsonValues (objects, numbers, keys alike) is a 400 before it is parsed; brackets inside strings do not count', async () => {
    const post = (body: string) => fetch(`${env.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer key-k', 'content-type': 'application/json' }, body })
    for (const filler of ['{}', '1.5', '"s"']) {
      const many = await post(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"metadata":[${Array.from({ length: 600_000 }, () => filler).join(',')}]}`)
      assert.equal(many.status, 400, filler)
      const error = ((await many.json()) as { error: { code: string; message: string } }).error
      assert.equal(error.code, 'request_too_complex')
      assert.match(error.message, /more than 500000 JSON values/)
    }
    const keys = await post(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"metadata":{${Array.from({ length: 300_000 }, (_, i) => `"k${i}":0`).join(',')}}}`)
    assert.equal(keys.status, 400, 'an object of 300,000 keys is 600,000 values')
    const code = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `[{"a":"\\"}]`.repeat(150_000) }] })
    assert.equal((await post(code)).status, 200, 'a prompt full of brackets is one string')
  })

  it('a user that is not a string is a 400', async () => {
    for (const user of [1, {}, ['a']]) {
      const response = await env.gw.post('/v1/chat/completions', { ...chat('who'), user }, { authorization: 'Bearer key-k' })
      assert.equal(response.status, 400)
      assert.equal(((await response.json()) as { error: { param: string } }).error.param, 'user')
    }
  })
})
