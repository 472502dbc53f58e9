import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { createCache } from '../../../src/index.js'
import { tollgateFetch, tollgateInfo, withTollgate } from '../../../src/integrations/openai/index.js'
import { type FakeUpstream, startFakeUpstream } from '../../fixtures/fake-upstream.js'
import OpenAI from 'openai'
import { ask, askStream, wrappedClient } from './helpers.js'

describe('tollgate/openai: answers through the cache, inside the real SDK', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream.close())
  beforeEach(() => upstream.reset())

  it('a repeated chat completion is a hit: no second upstream call, and .withResponse() tells what it saved', async () => {
    const { client } = wrappedClient(upstream)
    const first = await client.chat.completions.create(ask('hello')).withResponse()
    const second = await client.chat.completions.create(ask('hello')).withResponse()
    assert.equal(upstream.calls['/v1/chat/completions'], 1)
    assert.deepEqual(second.data, first.data)
    const miss = tollgateInfo(first.response)
    const hit = tollgateInfo(second.response)
    assert.equal(miss?.cache, 'MISS')
    assert.equal(miss?.cached, false)
    assert.ok((miss?.costUsd ?? 0) > 0)
    assert.equal(hit?.cache, 'HIT')
    assert.equal(hit?.cached, true)
    assert.ok((hit?.savedUsd ?? 0) > 0)
    assert.equal(hit?.cacheKey, miss?.cacheKey)
  })

  it('answers are shared by calls to one provider: across API keys only under one tenant', async () => {
    const cache = createCache()
    const client = (apiKey: string, options: { tenant?: string; baseURL?: string } = {}) => {
      const plain = new OpenAI({ apiKey, baseURL: options.baseURL ?? upstream.url, maxRetries: 0 })
      return withTollgate(plain, { cache, ...(options.tenant ? { tenant: options.tenant } : {}) })
    }
    const status = async (c: OpenAI) => tollgateInfo((await c.chat.completions.create(ask('whose answer')).withResponse()).response)?.cache
    assert.equal(await status(client('sk-customer-a')), 'MISS')
    assert.equal(await status(client('sk-customer-a')), 'HIT')
    // No tenant given: another key is another customer.
    assert.equal(await status(client('sk-customer-b')), 'MISS')
    // One tenant: its keys share answers, but not with another provider serving the same model name.
    assert.equal(await status(client('sk-team-1', { tenant: 'team' })), 'MISS')
    assert.equal(await status(client('sk-team-2', { tenant: 'team' })), 'HIT')
    assert.equal(await status(client('sk-team-2', { tenant: 'team', baseURL: `${upstream.url.replace(/\/v1$/, '')}/other/v1` })), 'MISS')
    assert.equal(upstream.calls['/v1/chat/completions'], 3)
    assert.equal(upstream.calls['/other/v1/chat/completions'], 1)
  })

  it('a stream is relayed live, then replayed from the cache chunk for chunk through the SDK\'s Stream', async () => {
    const { client } = wrappedClient(upstream)
    const read = async () => {
      const { data: stream, response } = await client.chat.completions.create(askStream('stream me')).withResponse()
      let text = ''
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
      return { text, info: tollgateInfo(response) }
    }
    const live = await read()
    const replay = await read()
    assert.equal(upstream.calls['/v1/chat/completions'], 1)
    assert.ok(live.text.length > 0)
    assert.equal(replay.text, live.text)
    assert.equal(live.info?.cache, 'MISS')
    assert.equal(replay.info?.cache, 'HIT')
  })

  it('.asResponse() gives the synthetic response itself', async () => {
    const { client } = wrappedClient(upstream)
    await client.chat.completions.create(ask('raw'))
    const response = await client.chat.completions.create(ask('raw')).asResponse()
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('x-tollgate-cache'), 'HIT')
    assert.equal(((await response.json()) as { object: string }).object, 'chat.completion')
  })

  it('completions and embeddings are cached too; other routes go to the provider untouched', async () => {
    const { client } = wrappedClient(upstream)
    for (let i = 0; i < 2; i++) {
      await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'say hi' })
      await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'bb'] })
    }
    assert.equal(upstream.calls['/v1/completions'], 1)
    assert.equal(upstream.calls['/v1/embeddings'], 1)
    const embedded = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'bb'] })
    assert.equal(embedded.data.length, 2)
    const models = await client.models.list()
    assert.ok(models.data.some((model) => model.id === 'gpt-4o-mini'))
    await client.models.list()
    assert.equal(upstream.calls['/v1/models'], 2)
  })

  it('identical calls in flight make one upstream call (single-flight), streamed or not', async () => {
    const { client } = wrappedClient(upstream)
    const requested = upstream.whenRequested()
    const calls = [client.chat.completions.create(ask('[hold] together')), client.chat.completions.create(ask('[hold] together'))]
    await requested
    upstream.release()
    const [a, b] = await Promise.all(calls)
    assert.deepEqual(a, b)
    assert.equal(upstream.calls['/v1/chat/completions'], 1)
    const streamed = upstream.whenRequested()
    const streams = [client.chat.completions.create(askStream('[hold] flowing')), client.chat.completions.create(askStream('[hold] flowing'))]
    await streamed
    upstream.release()
    const texts = await Promise.all(
      streams.map(async (pending) => {
        let text = ''
        for await (const chunk of await pending) text += chunk.choices[0]?.delta?.content ?? ''
        return text
      }),
    )
    assert.equal(texts[0], texts[1])
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
  })

  it('per-call controls: no-store bypasses, tags invalidate, and tollgate\'s headers never reach the provider', async () => {
    const { client, cache } = wrappedClient(upstream, { tenant: 'acme' })
    await client.chat.completions.create(ask('tagged'), { headers: { 'x-tollgate-cache-tags': 'persona:support' } })
    assert.equal(upstream.last?.headers['x-tollgate-cache-tags'], undefined)
    assert.equal(upstream.last?.headers.authorization, 'Bearer sk-test')
    const { response: bypassed } = await client.chat.completions.create(ask('tagged'), { headers: { 'cache-control': 'no-store' } }).withResponse()
    assert.equal(tollgateInfo(bypassed)?.cache, 'BYPASS')
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
    await cache.namespaced('t/acme').invalidateTags(['persona:support'])
    const { response } = await client.chat.completions.create(ask('tagged')).withResponse()
    assert.equal(tollgateInfo(response)?.cache, 'MISS')
    const { error } = await client.chat.completions
      .create(ask('bad ttl'), { headers: { 'x-tollgate-cache-ttl': 'soon' } })
      .then(() => ({ error: undefined }), (err: unknown) => ({ error: err }))
    assert.ok(error instanceof OpenAI.BadRequestError)
    assert.match(error.message, /x-tollgate-cache-ttl/)
  })

  it('tenants do not read each other\'s answers', async () => {
    const cache = createCache({ namespace: 'shared' })
    const a = wrappedClient(upstream, { cache, tenant: 'a' }).client
    const b = wrappedClient(upstream, { cache, tenant: 'b' }).client
    await a.chat.completions.create(ask('secret of a'))
    const { response } = await b.chat.completions.create(ask('secret of a')).withResponse()
    assert.equal(tollgateInfo(response)?.cache, 'MISS')
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
  })

  it('aborting a stream midway ends it at once, as with the provider', async () => {
    const { client } = wrappedClient(upstream)
    const controller = new AbortController()
    const stream = await client.chat.completions.create({ ...askStream(`[drip:20] ${'word '.repeat(60)}`) }, { signal: controller.signal })
    let chunks = 0
    for await (const chunk of stream) {
      void chunk
      if (++chunks === 3) controller.abort()
    }
    assert.equal(chunks, 3)
  })

  it('onCall reports a stream\'s cost once it ended, and a hit\'s saving', async () => {
    const reports: Array<{ cache: string; costUsd: number | undefined; savedUsd: number | undefined }> = []
    const fetch = tollgateFetch({ cache: createCache(), onCall: (report) => reports.push(report) })
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: upstream.url, maxRetries: 0, fetch })
    for (let i = 0; i < 2; i++) for await (const chunk of await client.chat.completions.create(askStream('reported'))) void chunk
    await until(() => reports.length === 2)
    assert.equal(reports[0]?.cache, 'MISS')
    assert.ok((reports[0]?.costUsd ?? 0) > 0)
    assert.equal(reports[1]?.cache, 'HIT')
    assert.ok((reports[1]?.savedUsd ?? 0) > 0)
    assert.ok(fetch.ledger.lines().some((line) => line.tenant === 'default' && line.savedUsd > 0))
    await fetch.close()
  })
})

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(condition())
}
