import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createCache, createRateLimiter, type RateLimiter, type TollgateError } from '../../../src/index.js'
import { tollgateMiddleware } from '../../../src/integrations/ai-sdk/index.js'
import { waitFor } from '../../harness/processes.js'
import { answer, forEachMajor, gate, nextCoalesced, partStream, settled, streamParts } from './kit.js'

/** What each rule has left for `key`, without taking anything. */
async function left(limiter: RateLimiter, key: string): Promise<Record<string, number>> {
  const decision = await limiter.peek(key, { cost: { requests: 0, tokens: 0 } })
  return Object.fromEntries(decision.rules.map((rule) => [rule.name, rule.remaining]))
}

/** Settlements run in the background: waits (bounded) until the counts say `expected`. */
async function settlesTo(limiter: RateLimiter, key: string, expected: Record<string, number>): Promise<void> {
  let last: Record<string, number> = {}
  await waitFor(`limits of ${key} to settle to ${JSON.stringify(expected)}`, async () => {
    last = await left(limiter, key)
    return JSON.stringify(last) === JSON.stringify(expected)
  }).catch(() => assert.deepEqual(last, expected))
}

forEachMajor('rate limits of the cache middleware', (kit) => {
  it('tokens are charged from the usage the model reports, and a cache hit is charged none', async () => {
    const { generateText, streamText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const limiter = createRateLimiter({ rules: [{ name: 'requests', limit: 10, window: '1m' }, { name: 'tokens', limit: 10_000, window: '1m' }], logger: false })
    const model = mockModel({ doGenerate: async () => answer('counted'), doStream: async () => ({ stream: partStream(streamParts(['streamed'])) }) })
    const middleware = tollgateMiddleware({ cache, limits: { limiter, key: (call) => String(call.params.headers?.['x-user']) } })
    const wrapped = wrapLanguageModel({ model, middleware })
    const headers = { 'x-user': 'alice' }
    // Up front: the estimate of the prompt plus maxOutputTokens; afterwards, the 30 + 20 tokens the model reported.
    await generateText({ model: wrapped, prompt: 'How many tokens?', maxOutputTokens: 500, headers })
    await settlesTo(limiter, 'alice', { requests: 9, tokens: 9_950 })
    await generateText({ model: wrapped, prompt: 'How many tokens?', maxOutputTokens: 500, headers })
    await settlesTo(limiter, 'alice', { requests: 8, tokens: 9_950 })
    assert.equal(model.doGenerateCalls.length, 1)
    await streamText({ model: wrapped, prompt: 'Stream it', headers }).text
    await settlesTo(limiter, 'alice', { requests: 7, tokens: 9_900 })
    assert.deepEqual(await left(limiter, 'bob'), { requests: 10, tokens: 10_000 }, 'each user has a quota of their own')
    await limiter.close()
    await cache.close()
  })

  it('a call past its limit is refused with E_RATE_LIMITED before the cache and the model', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const limiter = createRateLimiter({ rules: [{ name: 'requests', limit: 2, window: '1m' }], logger: false })
    const model = mockModel({ doGenerate: async () => answer('limited') })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, limits: { limiter } }) })
    await generateText({ model: wrapped, prompt: 'first' })
    await generateText({ model: wrapped, prompt: 'first' })
    await assert.rejects(generateText({ model: wrapped, prompt: 'second', maxRetries: 0 }), (err: TollgateError & { charge: { allowed: boolean; retryAfterMs: number } }) => {
      assert.equal(err.code, 'E_RATE_LIMITED')
      assert.equal(err.charge.allowed, false)
      assert.ok(err.charge.retryAfterMs > 0)
      return true
    })
    assert.equal(model.doGenerateCalls.length, 1, 'the refused call never reached the model')
    await limiter.close()
    await cache.close()
  })

  it('an estimate larger than the token limit is refused, and a custom estimate is used', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const limiter = createRateLimiter({ rules: [{ name: 'tpm', limit: 1_000, window: '1m' }], logger: false })
    const model = mockModel({ doGenerate: async () => answer('small') })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, limits: { limiter, tokenRules: ['tpm'], estimate: (call) => Number(call.params.maxOutputTokens) } }) })
    await assert.rejects(generateText({ model: wrapped, prompt: 'p', maxOutputTokens: 5_000, maxRetries: 0 }), { code: 'E_RATE_LIMITED' })
    await generateText({ model: wrapped, prompt: 'p', maxOutputTokens: 900 })
    // 900 estimated by the function, settled to the 50 the model reported.
    await waitFor('the tpm rule to settle at 950 left', async () => (await limiter.peek('default', { cost: 0 })).remaining === 950)
    await limiter.close()
    await cache.close()
  })

  it('a caller that leaves a coalesced call on its abort gives its token estimate back', { timeout: 20_000 }, async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const limiter = createRateLimiter({ rules: [{ name: 'requests', limit: 10, window: '1m' }, { name: 'tokens', limit: 10_000, window: '1m' }], logger: false })
    const held = gate()
    const model = mockModel({
      doGenerate: async () => {
        await held.promise
        return answer('worth waiting for')
      },
    })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, limits: { limiter, estimate: () => 1_000 } }) })
    const coalesced = nextCoalesced(cache)
    const leader = generateText({ model: wrapped, prompt: 'p', maxRetries: 0 })
    const controller = new AbortController()
    const leaving = generateText({ model: wrapped, prompt: 'p', abortSignal: controller.signal, maxRetries: 0 })
    await coalesced
    await settlesTo(limiter, 'default', { requests: 8, tokens: 8_000 })
    controller.abort(new Error('gave up'))
    await assert.rejects(settled(leaving, 'the caller that aborted'), { message: 'gave up' })
    await settlesTo(limiter, 'default', { requests: 8, tokens: 9_000 })
    held.open()
    await leader
    // The leader's 1,000 settled to the 50 the model reported; the one that left paid no tokens.
    await settlesTo(limiter, 'default', { requests: 8, tokens: 9_950 })
    await limiter.close()
    await cache.close()
  })
})
