import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway } from './helpers.js'

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}

describe('bad input gets a 4xx in the OpenAI shape and the process stays up', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    gw = await startGateway(upstream.url, { upstreams: [{ name: 'fake', baseUrl: upstream.url, models: ['gpt-4o-mini', 'text-embedding-*'] }] })
  })
  after(async () => {
    await gw.close()
    await upstream.close()
  })

  const cases: Array<[string, () => Promise<Response>, number, string | null]> = [
    ['malformed JSON', () => gw.post('/v1/chat/completions', '{"model": "gpt-4o-mini", "messages": ['), 400, null],
    ['an empty body', () => gw.post('/v1/chat/completions', ''), 400, null],
    ['a JSON array', () => gw.post('/v1/chat/completions', '[1,2]'), 400, 'body'],
    ['JSON sent as text/plain', () => gw.post('/v1/chat/completions', '{"model":"gpt-4o-mini"}', { 'content-type': 'text/plain' }), 400, 'body'],
    ['model of the wrong type', () => gw.post('/v1/chat/completions', { model: 42, messages: [{ role: 'user', content: 'x' }] }), 400, 'model'],
    ['messages missing', () => gw.post('/v1/chat/completions', { model: 'gpt-4o-mini' }), 400, 'messages'],
    ['a message without a role', () => gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ content: 'x' }] }), 400, 'messages[0]'],
    ['temperature as text', () => gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }), 400, 'temperature'],
    ['stream as text', () => gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }), 400, 'stream'],
    ['a streamed embedding', () => gw.post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'x', stream: true }), 400, 'stream'],
    ['an unknown model', () => gw.post('/v1/chat/completions', { model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }), 404, 'model'],
    ['a 10 MB body', () => gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(10 * 1024 * 1024) }] }), 413, null],
    ['an unknown route', () => gw.post('/nope', {}), 404, null],
  ]

  for (const [name, send, status, param] of cases) {
    it(`${name} → ${status}`, async () => {
      const response = await send()
      assert.equal(response.status, status)
      const body = (await response.json()) as ErrorBody
      assert.equal(typeof body.error.message, 'string')
      assert.ok(body.error.message.length > 0)
      assert.equal(typeof body.error.type, 'string')
      if (param) assert.equal(body.error.param, param)
    })
  }

  it('still answers after all of that', async () => {
    const reply = await gw.client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'alive?' }] })
    assert.equal(reply.choices[0]?.message.content, 'echo alive? t=none')
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
  })
})
