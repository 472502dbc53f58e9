import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { type Cache, createCache, createStore, type Store } from '../../../src/index.js'
import { tollgateMiddleware } from '../../../src/integrations/ai-sdk/index.js'
import { RedisServer } from '../../harness/redis-server.js'
import { answer, forEachMajor, partStream, streamParts, TIMESTAMP } from './kit.js'

let server: RedisServer
before(async () => {
  server = await RedisServer.start()
})
after(() => server.stop())

forEachMajor('two instances sharing Redis', (kit) => {
  /** Two app instances: each its own store connection, cache and L1, one Redis between them. */
  async function instances(prefix: string): Promise<{ caches: [Cache, Cache]; close: () => Promise<void> }> {
    const stores: Store[] = [createStore({ url: server.url, keyPrefix: prefix }), createStore({ url: server.url, keyPrefix: prefix })]
    const caches = stores.map((store) => createCache({ store })) as [Cache, Cache]
    await Promise.all(caches.map((cache) => cache.ready()))
    return {
      caches,
      close: async () => {
        await Promise.all(caches.map((cache) => cache.close()))
        await Promise.all(stores.map((store) => store.close()))
      },
    }
  }

  it('an answer one instance got from the model is served to the other from Redis, Dates revived', async () => {
    const { generateText, streamText, wrapLanguageModel, mockModel } = kit()
    const { caches, close } = await instances(`${kit().name}-a:`)
    const model = mockModel({ doGenerate: async () => answer('from redis'), doStream: async () => ({ stream: partStream(streamParts(['from ', 'redis'])) }) })
    const [a, b] = caches.map((cache) => wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) }))
    await generateText({ model: a, prompt: 'p' })
    await streamText({ model: a, prompt: 'p' }).text
    const generated = await generateText({ model: b, prompt: 'p' })
    const streamed = streamText({ model: b, prompt: 'p' })
    assert.equal(generated.text, 'from redis')
    assert.equal(await streamed.text, 'from redis')
    assert.equal(generated.providerMetadata?.tollgate?.cache, 'hit')
    assert.equal((await streamed.providerMetadata)?.tollgate?.cache, 'hit')
    assert.equal(model.doGenerateCalls.length, 1)
    assert.equal(model.doStreamCalls.length, 1)
    assert.equal(generated.response.timestamp.getTime(), TIMESTAMP.getTime())
    assert.equal((await streamed.response).timestamp.getTime(), TIMESTAMP.getTime())
    await close()
  })
})
