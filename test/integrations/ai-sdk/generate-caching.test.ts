import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createCache, ManualClock } from '../../../src/index.js'
import { type ModelCall, tollgateMiddleware } from '../../../src/integrations/ai-sdk/index.js'
import { answer, forEachMajor, gate, nextCoalesced, modelPrompt, settled, stop, TIMESTAMP, usage } from './kit.js'

forEachMajor('generateText through the cache middleware', (kit) => {
  it('a repeated call is answered from the cache without calling the model', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doGenerate: async () => answer('Paris') })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    const first = await generateText({ model: wrapped, prompt: 'Capital of France?' })
    const second = await generateText({ model: wrapped, prompt: 'Capital of France?' })
    assert.equal(model.doGenerateCalls.length, 1)
    assert.equal(second.text, 'Paris')
    assert.equal(first.providerMetadata?.tollgate?.cache, 'miss')
    assert.equal(second.providerMetadata?.tollgate?.cache, 'hit')
    assert.ok(second.response.timestamp instanceof Date, 'the timestamp is a Date again')
    assert.equal(second.response.timestamp.getTime(), TIMESTAMP.getTime())
    await cache.close()
  })

  it('the key follows the options that change the answer, not the abort signal or the headers', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doGenerate: async () => answer('ok') })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    await generateText({ model: wrapped, prompt: 'p', temperature: 0 })
    await generateText({ model: wrapped, prompt: 'p', temperature: 0, headers: { 'x-request-id': '42' }, abortSignal: new AbortController().signal })
    await generateText({ model: wrapped, prompt: 'p', temperature: 0, providerOptions: { tollgate: { user: 'bob' } } })
    assert.equal(model.doGenerateCalls.length, 1, 'headers, the abort signal and providerOptions.tollgate are not part of the key')
    await generateText({ model: wrapped, prompt: 'p', temperature: 0.7 })
    await generateText({ model: wrapped, prompt: 'p', temperature: 0, maxOutputTokens: 10 })
    await generateText({ model: wrapped, prompt: 'p', temperature: 0, providerOptions: { openai: { reasoningEffort: 'low' } } })
    await generateText({ model: wrapped, prompt: 'other', temperature: 0 })
    assert.equal(model.doGenerateCalls.length, 5, 'each option that changes the answer is a miss')
    const other = wrapLanguageModel({ model: mockModel({ doGenerate: async () => answer('other model'), modelId: 'other-model' }), middleware: tollgateMiddleware({ cache }) })
    assert.equal((await generateText({ model: other, prompt: 'p', temperature: 0 })).text, 'other model', 'another model never gets this model’s answer')
    await cache.close()
  })

  it('file bytes and timestamps of a cached result come back as Uint8Array and Date', async () => {
    const { wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const bytes = new Uint8Array([0, 1, 2, 250, 255])
    const result = { ...answer('see file'), content: [{ type: 'file', mediaType: 'image/png', data: bytes }] }
    const model = mockModel({ doGenerate: async () => result })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    await wrapped.doGenerate({ prompt: modelPrompt('draw') })
    const hit = await wrapped.doGenerate({ prompt: modelPrompt('draw') })
    assert.equal(model.doGenerateCalls.length, 1)
    const file = hit.content[0] as { data: unknown }
    assert.ok(file.data instanceof Uint8Array)
    assert.deepEqual([...file.data], [...bytes])
    assert.ok((hit.response as { timestamp: unknown }).timestamp instanceof Date)
    await cache.close()
  })

  it('an answer that finished with an error is not cached', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doGenerate: async () => ({ ...answer(''), finishReason: { unified: 'error', raw: 'server_error' } }) })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    await generateText({ model: wrapped, prompt: 'p' })
    await generateText({ model: wrapped, prompt: 'p' })
    assert.equal(model.doGenerateCalls.length, 2)
    await cache.close()
  })

  it('identical calls in flight at once make one model call', { timeout: 20_000 }, async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const held = gate()
    const model = mockModel({
      doGenerate: async () => {
        await held.promise
        return answer('shared')
      },
    })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    const coalesced = nextCoalesced(cache)
    const calls = [generateText({ model: wrapped, prompt: 'p' }), generateText({ model: wrapped, prompt: 'p' })]
    await coalesced
    held.open()
    const results = await Promise.all(calls)
    assert.deepEqual(
      results.map((r) => r.text),
      ['shared', 'shared'],
    )
    assert.deepEqual(results.map((r) => r.providerMetadata?.tollgate?.cache).sort(), ['coalesced', 'miss'])
    assert.equal(model.doGenerateCalls.length, 1)
    await cache.close()
  })

  it('a caller’s abort does not fail the identical call that waited for it', { timeout: 20_000 }, async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({
      doGenerate: async (params) => {
        const signal = params.abortSignal as AbortSignal | undefined
        if (signal) await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }))
        return answer('for the one who waited')
      },
    })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    const controller = new AbortController()
    const coalesced = nextCoalesced(cache)
    const leader = generateText({ model: wrapped, prompt: 'p', abortSignal: controller.signal, maxRetries: 0 })
    const follower = generateText({ model: wrapped, prompt: 'p', maxRetries: 0 })
    await coalesced
    controller.abort(new Error('the first caller went away'))
    await assert.rejects(leader)
    assert.equal((await follower).text, 'for the one who waited')
    assert.equal(model.doGenerateCalls.length, 2, 'the waiting call asked the model itself')
    await cache.close()
  })

  it('a caller waiting for an identical call leaves on its own abort, and the call it waited for runs on', { timeout: 20_000 }, async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const held = gate()
    const model = mockModel({
      doGenerate: async () => {
        await held.promise
        return answer('shared')
      },
    })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    let coalesced = nextCoalesced(cache)
    const leader = generateText({ model: wrapped, prompt: 'p', maxRetries: 0 })
    const controller = new AbortController()
    const leaving = generateText({ model: wrapped, prompt: 'p', abortSignal: controller.signal, maxRetries: 0 })
    await coalesced
    coalesced = nextCoalesced(cache)
    const staying = generateText({ model: wrapped, prompt: 'p', maxRetries: 0 })
    await coalesced
    const reason = new Error('caller 2 gave up')
    controller.abort(reason)
    // Settles while the model call it waited for is still held open: it did not wait for it.
    await assert.rejects(settled(leaving, 'the caller that aborted'), (err) => err === reason)
    const gone = AbortSignal.abort(new Error('gone before it asked'))
    await assert.rejects(settled(generateText({ model: wrapped, prompt: 'p', abortSignal: gone, maxRetries: 0 }), 'the caller aborted already'), (err) => err === gone.reason)
    held.open()
    const results = await Promise.all([leader, staying])
    assert.deepEqual(
      results.map((r) => [r.text, r.providerMetadata?.tollgate?.cache]),
      [
        ['shared', 'miss'],
        ['shared', 'coalesced'],
      ],
    )
    assert.equal(model.doGenerateCalls.length, 1, 'nobody who left called the model, nor made anyone else call it')
    await cache.close()
  })

  it('an answer is served for its ttl and not after', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const clock = new ManualClock()
    const cache = createCache({ clock })
    const model = mockModel({ doGenerate: async () => answer('fresh') })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, ttl: '1m' }) })
    await generateText({ model: wrapped, prompt: 'p' })
    clock.advance(59_000)
    await generateText({ model: wrapped, prompt: 'p' })
    assert.equal(model.doGenerateCalls.length, 1)
    clock.advance(2_000)
    await generateText({ model: wrapped, prompt: 'p' })
    assert.equal(model.doGenerateCalls.length, 2)
    await cache.close()
  })

  it('invalidating a tag drops the answers it labels, and only those', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doGenerate: async () => answer('tagged') })
    const tags = (call: { params: { prompt: unknown } }) => [JSON.stringify(call.params.prompt).includes('support') ? 'persona:support' : 'persona:sales']
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, tags }) })
    await generateText({ model: wrapped, prompt: 'support question' })
    await generateText({ model: wrapped, prompt: 'sales question' })
    await cache.invalidateTags(['persona:support'])
    await generateText({ model: wrapped, prompt: 'support question' })
    await generateText({ model: wrapped, prompt: 'sales question' })
    assert.equal(model.doGenerateCalls.length, 3, 'the support answer was asked again, the sales one was not')
    await cache.close()
  })

  it('a tenant’s answer is never served to another tenant', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    let n = 0
    const model = mockModel({ doGenerate: async () => answer(`answer ${++n}`) })
    // The tenant comes with the call's headers, which are not part of the key: only the namespace keeps tenants apart.
    const namespace = (call: { params: { headers?: Record<string, string | undefined> } }) => call.params.headers?.['x-tenant']
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, namespace }) })
    const ask = (tenant: string) => generateText({ model: wrapped, prompt: 'same prompt', headers: { 'x-tenant': tenant } })
    assert.equal((await ask('acme')).text, 'answer 1')
    assert.equal((await ask('globex')).text, 'answer 2', 'globex is not served acme’s answer')
    assert.equal((await ask('acme')).text, 'answer 1')
    await cache.namespaced('acme').clearNamespace()
    assert.equal((await ask('acme')).text, 'answer 3', 'clearing acme drops acme’s answers')
    assert.equal((await ask('globex')).text, 'answer 2', 'and only acme’s')
    const fixed = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, namespace: 'initech' }) })
    assert.equal((await generateText({ model: fixed, prompt: 'same prompt' })).text, 'answer 4', 'a fixed namespace is a tenant of its own')
    await cache.close()
  })

  it('a call nested too deeply to key goes to the model uncached instead of failing', async () => {
    const { wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doGenerate: async () => answer('still answered') })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    let deep: unknown = 'bottom'
    for (let i = 0; i < 2_000; i++) deep = { nested: deep }
    const prompt = [{ role: 'user', content: [{ type: 'text', text: 'p', providerOptions: { mock: deep } }] }]
    const result = await wrapped.doGenerate({ prompt })
    assert.deepEqual(result.providerMetadata?.tollgate, { cache: 'bypass' })
    await wrapped.doGenerate({ prompt })
    assert.equal(model.doGenerateCalls.length, 2)
    await cache.close()
  })

  it('a key function returning undefined skips the cache for that call', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doGenerate: async () => ({ ...answer('creative'), usage: usage(1, 1), finishReason: stop }) })
    const key = (call: ModelCall) => (call.params.temperature === 0 ? 'deterministic' : undefined)
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, key }) })
    const first = await generateText({ model: wrapped, prompt: 'p', temperature: 1 })
    await generateText({ model: wrapped, prompt: 'p', temperature: 1 })
    assert.equal(model.doGenerateCalls.length, 2)
    assert.equal(first.providerMetadata?.tollgate?.cache, 'bypass')
    await generateText({ model: wrapped, prompt: 'p', temperature: 0 })
    await generateText({ model: wrapped, prompt: 'q', temperature: 0 })
    assert.equal(model.doGenerateCalls.length, 3, 'the custom key is the whole key')
    await cache.close()
  })
})
