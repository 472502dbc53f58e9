import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type CachePolicy, CallProducer, createCache, ModelRouter, Pricing } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'

const policy = (namespace: string): CachePolicy => ({ read: true, write: true, ttlMs: 60_000, namespace, tags: [] })

describe('the call producer, used without HTTP (as an SDK integration does)', () => {
  let upstream: FakeUpstream
  let router: ModelRouter
  const cache = createCache({ namespace: 'calls' })
  before(async () => {
    upstream = await startFakeUpstream()
    router = new ModelRouter([{ name: 'fake', baseUrl: upstream.url, apiKeyHeader: 'authorization', query: {}, models: ['*'], aliases: {}, timeout: 10_000, maxRetries: 0 }])
  })
  after(async () => {
    await router.close()
    await cache.close()
    await upstream.close()
  })

  it('streams a live answer as SSE payloads, then serves it from the cache with what it saved; another namespace calls again', async () => {
    const producer = new CallProducer({ cache, pricing: new Pricing() })
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'producer' }], stream: true }
    const call = (namespace: string) => producer.start({ kind: 'chat', body, route: router.resolve('gpt-4o-mini')!, caller: { tenant: namespace, key: 'k' }, policy: policy(namespace) })
    const live = await call('t/a')
    assert.equal(live.cache, 'MISS')
    assert.equal(live.completion, undefined, 'live: the answer is still coming')
    const payloads: string[] = []
    for await (const payload of live.events()) payloads.push(payload)
    assert.equal(payloads.at(-1), '[DONE]')
    const { completion, costUsd } = await live.result
    assert.ok(costUsd! > 0)
    assert.match(JSON.stringify(completion), /echo producer/)
    const hit = await call('t/a')
    assert.equal(hit.cache, 'HIT')
    assert.ok((await hit.result).savedUsd! > 0)
    assert.equal((await call('t/b')).cache, 'MISS')
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
    const line = producer.ledger.lines().find((l) => l.tenant === 't/a')
    assert.deepEqual([line?.upstreamCalls, line?.cacheHits], [1, 1])
  })
})
