import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createRateLimiter, createStore, InvalidOptionError } from '../../src/index.js'

function refuses(options: Record<string, unknown>, option: string): void {
  assert.throws(
    () => createRateLimiter(options as never),
    (err: unknown) => err instanceof InvalidOptionError && err.option === option,
    `expected E_INVALID_OPTION naming ${option}`,
  )
}

it('bad limiter options throw E_INVALID_OPTION naming the option', () => {
  refuses({ limit: 0, window: '1m' }, 'limit')
  refuses({ limit: -3, window: '1m' }, 'limit')
  refuses({ limit: 1.5, window: '1m' }, 'limit')
  refuses({ limit: 10, window: -1000 }, 'window')
  refuses({ limit: 10, window: '-1s' }, 'window')
  refuses({ limit: 10, window: 0 }, 'window')
  refuses({ limit: 10, window: '1.5ms' }, 'window')
  refuses({ limit: 10 }, 'window')
  refuses({ limit: 10, window: '1m', algorithm: 'leaky' }, 'algorithm')
  refuses({ limit: 10, window: '1m', algorithm: 'sliding-window', burst: 5 }, 'burst')
  refuses({ limit: 10, window: '1m', algorithm: 'token-bucket', buckets: 5 }, 'buckets')
  refuses({ limit: 10, window: '1m', onStoreError: 'ignore' }, 'onStoreError')
  refuses({ limit: 10, window: '1m', instances: 0 }, 'instances')
  refuses({ limit: 10, window: '1m', batchSize: 0 }, 'batchSize')
  refuses({ limit: 10, window: '1m', batchSize: 2.5 }, 'batchSize')
  refuses({ limit: 10, window: '1m', batchSize: 10_001 }, 'batchSize')
  refuses({ limit: 10, window: '1m', store: {} }, 'store')
  refuses({ limit: 10, window: '1m', circuitBreaker: { probeInterval: 'soon' } }, 'circuitBreaker.probeInterval')
  refuses({ limit: 10, window: '1m', rules: [{ limit: 1, window: '1s' }] }, 'rules')
  refuses({ rules: [] }, 'rules')
  refuses({ rules: [{ limit: 1, window: 'x' }] }, 'rules.0.window')
  refuses(
    {
      rules: [
        { name: 'a', limit: 1, window: '1s' },
        { name: 'a', limit: 2, window: '1s' },
      ],
    },
    'rules',
  )
  refuses({ limit: 10, window: '1m', lmit: 5 }, 'lmit')
})

it('bad consume arguments throw E_INVALID_OPTION naming them', async () => {
  const store = createStore()
  const limiter = createRateLimiter({ store, limit: 10, window: '1m' })
  for (const cost of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, '2']) {
    await assert.rejects(limiter.consume('k', { cost: cost as number }), { code: 'E_INVALID_OPTION', option: 'cost' })
  }
  await assert.rejects(limiter.consume('k', { cost: { nope: 1 } }), { code: 'E_INVALID_OPTION', option: 'cost.nope' })
  await assert.rejects(limiter.consume(42 as never), { code: 'E_INVALID_OPTION', option: 'key' })
  assert.equal((await limiter.consume('k')).remaining, 9, 'bad calls consumed nothing')
  await limiter.close()
  await store.close()
})
