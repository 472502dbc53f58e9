import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { requestCacheKey } from '../../src/llm/canonical.js'
import { useGateway, within } from './helpers.js'

const chat = (content: string, stream = false) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream })

describe('only completions are cached, and nothing hangs a client', () => {
  const env = useGateway()

  for (const kind of ['empty', 'html', 'null', 'error']) {
    it(`a 200 whose body is ${kind === 'empty' ? '{}' : kind} is a 502 naming the problem, never cached, for JSON and stream clients`, async () => {
      env.upstream.reset()
      for (const stream of [false, true, false]) {
        const response = await within(env.gw.post('/v1/chat/completions', chat(`[garbage:${kind}]`, stream)), 'the reply')
        assert.equal(response.status, 502)
        const body = (await within(response.json(), 'the body')) as { error: { code: string; type: string; message: string } }
        assert.equal(body.error.code, 'upstream_invalid_reply')
        assert.match(body.error.message, /not (JSON|a completion)/)
      }
      assert.equal(env.upstream.calls['/v1/chat/completions'], 3, 'every request went upstream: nothing was cached')
    })
  }

  it('an entry in the cache that is not a completion is never replayed: the request is answered fresh', async () => {
    const body = chat('planted entry')
    const key = requestCacheKey('/chat/completions', body, 'gpt-4o-mini')
    await env.gw.gateway.cache.namespaced('t/default').set(key, { not: 'a completion' })
    for (const stream of [true, false]) {
      const response = await within(env.gw.post('/v1/chat/completions', { ...body, stream }), 'the reply')
      assert.equal(response.status, 200)
      const text = await within(response.text(), 'the body')
      assert.equal(response.headers.get('x-tollgate-cache'), stream ? 'MISS' : 'HIT', 'the fresh answer replaced the planted entry')
      assert.match(text, /planted/)
    }
  })

  it('embeddings replies are checked too', async () => {
    const response = await env.gw.post('/v1/embeddings', { model: 'text-embedding-3-small', input: '[garbage:empty]' })
    assert.equal(response.status, 502)
  })
})
