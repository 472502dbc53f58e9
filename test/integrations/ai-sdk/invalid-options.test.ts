import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createCache, createRateLimiter, type InvalidOptionError } from '../../../src/index.js'
import { tollgateMiddleware, type TollgateMiddlewareOptions } from '../../../src/integrations/ai-sdk/index.js'
import { answer, forEachMajor } from './kit.js'

it('a bad option throws E_INVALID_OPTION when the middleware is made, naming the option', async () => {
    const cache = createCache()
    const limiter = createRateLimiter({ rules: [{ name: 'requests', limit: 5, window: '1m' }], logger: false })
    const cases: Array<[string, unknown]> = [
      ['cache', {}],
      ['cache', undefined],
      ['ttl', 'soon'],
      ['ttl', 0],
      ['grace', -1],
      ['grace', '31d'],
      ['tags.0', 'a\nb'],
      ['tags', 'persona:support'],
      ['namespace', 'no spaces allowed'],
      ['namespace', 42],
      ['key', 'a fixed key'],
      ['ttL', '1m'],
      ['limits.limiter', {}],
      ['limits.key', ''],
      ['limits.tokenRules.0', 'tokens'],
      ['limits.estimate', 100],
      ['limits.burst', 5],
    ]
    for (const [option, value] of cases) {
      const options: Record<string, unknown> = { cache }
      const [head, ...rest] = option.split('.')
      if (head === 'tags' && rest.length > 0) options.tags = [value]
      else if (head === 'limits') options.limits = { limiter, ...(rest[0] === 'tokenRules' ? { tokenRules: [value] } : { [rest[0] as string]: value }) }
      else options[head as string] = value
      assert.throws(
        () => tollgateMiddleware(options as unknown as TollgateMiddlewareOptions),
        (err: InvalidOptionError) => {
          assert.equal(err.code, 'E_INVALID_OPTION', `${option}: ${err.message}`)
          assert.equal(err.option, option)
          return true
        },
        `${option} = ${String(value)}`,
      )
    }
    assert.throws(() => tollgateMiddleware(undefined as unknown as TollgateMiddlewareOptions), { code: 'E_INVALID_OPTION' })
  await limiter.close()
  await cache.close()
})

forEachMajor('options of the cache middleware', (kit) => {
  it('good options make a middleware the real wrapLanguageModel takes', async () => {
    const { generateText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const limiter = createRateLimiter({ rules: [{ name: 'requests', limit: 5, window: '1m' }, { name: 'tokens', limit: 5_000, window: '1m' }], logger: false })
    const middleware = tollgateMiddleware({ cache, ttl: '10m', grace: '1h', tags: ['prompt:v3'], namespace: 'tenant-a', limits: { limiter, key: 'u1' } })
    const model = mockModel({ doGenerate: async () => answer('fine') })
    assert.equal((await generateText({ model: wrapLanguageModel({ model, middleware }), prompt: 'p' })).text, 'fine')
    await limiter.close()
    await cache.close()
  })
})
