import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { useGateway } from './helpers.js'

describe('gateway with the openai SDK', () => {
  const env = useGateway()

  it('answers a chat completion, then serves the identical request from the cache', async () => {
    const client = env.gw.client()
    const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello there' }], temperature: 0 }
    const first = await client.chat.completions.create(request).withResponse()
    assert.equal(first.data.choices[0]?.message.content, 'echo hello there t=0')
    assert.equal(first.response.headers.get('x-tollgate-cache'), 'MISS')
    const second = await client.chat.completions.create(request).withResponse()
    assert.equal(second.response.headers.get('x-tollgate-cache'), 'HIT')
    assert.ok(Number(second.response.headers.get('age')) >= 0)
    assert.deepEqual(second.data, first.data)
    assert.equal(env.upstream.calls['/v1/chat/completions'], 1)
  })

  it('the key ignores field order and transport fields, and changes with anything that changes the answer', async () => {
    const base = { model: 'gpt-4o-mini', temperature: 0.2, messages: [{ role: 'user', content: 'order test' }] }
    env.upstream.reset()
    assert.equal((await env.gw.post('/v1/chat/completions', base)).headers.get('x-tollgate-cache'), 'MISS')
    const reordered = `{"messages":[{"content":"order test","role":"user"}],"temperature":0.2,"user":"someone","model":"gpt-4o-mini"}`
    assert.equal((await env.gw.post('/v1/chat/completions', reordered)).headers.get('x-tollgate-cache'), 'HIT')
    assert.equal((await env.gw.post('/v1/chat/completions', { ...base, temperature: 0.3 })).headers.get('x-tollgate-cache'), 'MISS')
    assert.equal((await env.gw.post('/v1/chat/completions', { ...base, max_tokens: 5 })).headers.get('x-tollgate-cache'), 'MISS')
    assert.equal((await env.gw.post('/v1/chat/completions', { ...base, model: 'gpt-4o' })).headers.get('x-tollgate-cache'), 'MISS')
    assert.equal(env.upstream.calls['/v1/chat/completions'], 4)
  })

  it('streams a completion the SDK parses, then replays it from the cache as a stream', async () => {
    const client = env.gw.client()
    const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'stream me' }], stream: true as const }
    const collect = async () => {
      const { data: stream, response } = await client.chat.completions.create(request).withResponse()
      let text = ''
      let finish: string | null | undefined
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? ''
        finish = chunk.choices[0]?.finish_reason ?? finish
      }
      return { text, finish, cache: response.headers.get('x-tollgate-cache') }
    }
    assert.deepEqual(await collect(), { text: 'echo stream me t=none', finish: 'stop', cache: 'MISS' })
    assert.deepEqual(await collect(), { text: 'echo stream me t=none', finish: 'stop', cache: 'HIT' })
  })

  it('answers legacy completions and embeddings, and caches embeddings', async () => {
    const client = env.gw.client()
    const text = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'complete me', temperature: 0 })
    assert.equal(text.choices[0]?.text, 'echo complete me t=0')
    env.upstream.reset()
    const one = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'bb'] })
    const two = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'bb'] })
    assert.deepEqual(one.data.map((d) => d.embedding), [[1, 0, 0.5], [2, 1, 0.5]])
    assert.deepEqual(two, one)
    assert.equal(env.upstream.calls['/v1/embeddings'], 1)
  })

  it('lists the upstream models', async () => {
    const models = await env.gw.client().models.list()
    assert.deepEqual(models.data.map((m) => m.id).sort(), ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'])
  })
})
