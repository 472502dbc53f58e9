import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import OpenAI from 'openai'
import { createCache, createStore } from '../../../src/index.js'
import { tollgateFetch, tollgateInfo, withTollgate } from '../../../src/integrations/openai/index.js'
import { type FakeUpstream, startFakeUpstream } from '../../fixtures/fake-upstream.js'
import { ask, askStream, wrappedClient } from './helpers.js'

const rejection = <T>(promise: Promise<T>): Promise<unknown> => promise.then(() => assert.fail('expected a rejection'), (err: unknown) => err)

describe('tollgate/openai: failures reach the SDK as its own errors', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream.close())
  beforeEach(() => upstream.reset())

  it('a provider error status goes to the SDK as it came (its class, message and request id), and is not cached', async () => {
    const { client } = wrappedClient(upstream)
    const err = await rejection(client.chat.completions.create(ask('[fail:400] no')))
    assert.ok(err instanceof OpenAI.BadRequestError)
    assert.match(err.message, /fake upstream failure 400/)
    assert.equal(err.requestID, 'req_fail_400')
    await rejection(client.chat.completions.create(ask('[fail:400] no')))
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
  })

  it('the SDK\'s own retries still work: a 500 then a success is one answer', async () => {
    const { client } = wrappedClient(upstream, {}, { maxRetries: 2 })
    const completion = await client.chat.completions.create(ask('[fail-once:500] retry me'))
    assert.equal(completion.object, 'chat.completion')
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
  })

  it('a 200 that is not a completion is a final 502 naming the cause, not retried and not cached', async () => {
    const { client } = wrappedClient(upstream, {}, { maxRetries: 2 })
    const err = await rejection(client.chat.completions.create(ask('[garbage:html] page')))
    assert.ok(err instanceof OpenAI.APIError)
    assert.equal(err.status, 502)
    assert.equal(err.code, 'upstream_invalid_reply')
    assert.equal(upstream.calls['/v1/chat/completions'], 1)
  })

  it('a stream that breaks raises an APIError in the SDK\'s Stream, and nothing is cached', async () => {
    const { client } = wrappedClient(upstream)
    const read = async () => {
      for await (const chunk of await client.chat.completions.create(askStream('[truncate] cut'))) void chunk
    }
    const err = await rejection(read())
    assert.ok(err instanceof OpenAI.APIError)
    assert.match(err.message, /ended before every choice finished/)
    await rejection(read())
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
  })

  it('the SDK\'s timeout and abort still end a call at once', async () => {
    const { client } = wrappedClient(upstream, {}, { timeout: 200 })
    const timedOut = await rejection(client.chat.completions.create(ask('[hold] too slow')))
    assert.ok(timedOut instanceof OpenAI.APIConnectionTimeoutError)
    const controller = new AbortController()
    const pending = client.chat.completions.create(ask('[hold] abort me'), { signal: controller.signal })
    controller.abort()
    assert.ok((await rejection(pending)) instanceof OpenAI.APIUserAbortError)
    upstream.release()
  })

  it('a stalled provider is given up after the timeout, even for a call the cache wanted', async () => {
    const { client } = wrappedClient(upstream, { timeout: 300 }, { timeout: 60_000 })
    const requested = upstream.whenRequested()
    const aborted = upstream.whenAborted()
    const pending = rejection(client.chat.completions.create(ask('[hold] stalled')))
    await requested
    const err = await pending
    assert.ok(err instanceof OpenAI.APIError)
    assert.equal(err.status, 504)
    assert.equal(err.code, 'upstream_timeout')
    await aborted
    upstream.release()
  })

  it('withTollgate gives the upstream call the client\'s own timeout', async () => {
    const { client } = wrappedClient(upstream, {}, { timeout: 300 })
    const aborted = upstream.whenAborted()
    assert.ok((await rejection(client.chat.completions.create(ask('[hold] the client gave up')))) instanceof OpenAI.APIConnectionTimeoutError)
    // The cache still wanted the answer, but not past the same patience: the provider's connection is cut.
    await aborted
    upstream.release()
  })

  it('a reply over maxReplyBytes names that option', async () => {
    const { client } = wrappedClient(upstream, { maxReplyBytes: 1_000 })
    const err = await rejection(client.chat.completions.create(ask('[big:5000] large')))
    assert.ok(err instanceof OpenAI.APIError)
    assert.equal(err.code, 'upstream_reply_too_large')
    assert.match(err.message, /maxReplyBytes/)
  })

  it('a per-call ttl over the cache\'s longest is a 400 naming the header', async () => {
    const { client } = wrappedClient(upstream)
    const err = await rejection(client.chat.completions.create(ask('forever'), { headers: { 'x-tollgate-cache-ttl': String(31 * 86_400) } }))
    assert.ok(err instanceof OpenAI.BadRequestError)
    assert.equal(err.param, 'x-tollgate-cache-ttl')
    assert.equal(upstream.calls['/v1/chat/completions'], undefined)
  })

  it('an unreachable provider is a connection error the SDK retries', async () => {
    const plain = new OpenAI({ apiKey: 'sk', baseURL: 'http://127.0.0.1:9/v1', maxRetries: 1 })
    const client = withTollgate(plain, { cache: createCache() })
    assert.ok((await rejection(client.chat.completions.create(ask('nobody there')))) instanceof OpenAI.APIConnectionError)
  })

  it('limits refuse with a RateLimitError at once (no retries)', async () => {
    const store = createStore({ url: 'memory://' })
    const fetch = tollgateFetch({ cache: createCache(), limits: { store, requests: { limit: 2, window: '1m' }, tokens: { limit: 100_000, window: '1m' } } })
    const client = new OpenAI({ apiKey: 'sk', baseURL: upstream.url, maxRetries: 3, fetch })
    await client.chat.completions.create(ask('one'))
    await client.chat.completions.create(ask('two'))
    const err = await rejection(client.chat.completions.create(ask('three')))
    assert.ok(err instanceof OpenAI.RateLimitError)
    assert.match(err.message, /Rate limit reached for requests/)
    assert.ok(Number(err.headers?.get('retry-after')) >= 1)
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
    await fetch.close()
    await store.close()
  })

  it('a charge is settled with the real usage: the unused part of max_tokens goes back', async () => {
    const store = createStore({ url: 'memory://' })
    // Each call is charged its prompt plus max_tokens (1,000) up front; two at once would not fit.
    const fetch = tollgateFetch({ cache: createCache(), limits: { store, tokens: { limit: 1_500, window: '1h' } } })
    const client = new OpenAI({ apiKey: 'sk', baseURL: upstream.url, maxRetries: 0, fetch })
    await client.chat.completions.create(ask('first', { max_tokens: 1_000 }))
    await fetch.settled()
    const second = await client.chat.completions.create(ask('second', { max_tokens: 1_000 })).asResponse()
    assert.equal(second.status, 200)
    await fetch.settled()
    const third = await rejection(client.chat.completions.create(ask('third', { max_tokens: 2_000 })))
    assert.ok(third instanceof OpenAI.RateLimitError)
    await fetch.close()
    await store.close()
  })

  it('a body nested past maxJsonDepth is a 400 before it is hashed', async () => {
    const { client } = wrappedClient(upstream, { maxJsonDepth: 8 })
    let deep: unknown = 'bottom'
    for (let i = 0; i < 20; i++) deep = { deep }
    const err = await rejection(client.chat.completions.create({ ...ask('deep'), metadata: deep } as never))
    assert.ok(err instanceof OpenAI.BadRequestError)
    assert.match(err.message, /maxJsonDepth/)
    assert.equal(upstream.calls['/v1/chat/completions'], undefined)
  })

  it('bad options throw E_INVALID_OPTION at setup, naming the option', () => {
    const cache = createCache()
    const client = new OpenAI({ apiKey: 'sk', baseURL: upstream.url })
    const cases: Array<[unknown, string]> = [
      [{}, 'cache'],
      [{ cache, ttl: 'forever' }, 'ttl'],
      [{ cache, ttl: '31d' }, 'ttl'],
      [{ cache, timeout: 0 }, 'timeout'],
      [{ cache, tenant: '../other' }, 'tenant'],
      [{ cache, limits: { requests: { limit: 1, window: '1m' } } }, 'limits.store'],
      [{ cache, limits: { store: createStore(), requests: { limit: 0, window: '1m' } } }, 'limits.requests.limit'],
      [{ cache, maxReplyBytes: -1 }, 'maxReplyBytes'],
      [{ cache, cahce: true }, 'cahce'],
      [{ cache, onCall: 'log' }, 'onCall'],
    ]
    for (const [options, option] of cases) {
      assert.throws(() => withTollgate(client, options as never), (err: { code?: string; option?: string }) => err.code === 'E_INVALID_OPTION' && err.option === option, option)
    }
    assert.throws(() => tollgateFetch({ cache, fetch: 'no' as never }), { code: 'E_INVALID_OPTION', option: 'fetch' })
    assert.throws(() => withTollgate({} as never, { cache }), { code: 'E_INVALID_OPTION', option: 'client' })
  })

  it('a call the wrapper does not handle carries no tollgate headers', async () => {
    const { client } = wrappedClient(upstream)
    const response = await client.models.list().asResponse()
    assert.equal(tollgateInfo(response), undefined)
  })
})
