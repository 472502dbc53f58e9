import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createRateLimiter, createStore, InvalidOptionError } from '../../src/index.js'

// Found by a hostile review of the kept keys of scoped calls (ScopedIdentityCache) and the cost checks.
describe('kept rule keys and cost checks hold against odd input', () => {
  it('a cost naming no rule is refused even when a rule cost is a non-enumerable own property', async () => {
    const limiter = createRateLimiter({ logger: false, rules: [{ name: 'requests', limit: 10, window: '1m' }, { name: 'tokens', limit: 1000, window: '1m' }] })
    const cost: Record<string, number> = { tokenz: 500 }
    Object.defineProperty(cost, 'requests', { value: 1, enumerable: false })
    await assert.rejects(limiter.consume('k', { cost }), (err: unknown) => err instanceof InvalidOptionError && /cost\.tokenz/.test(err.message))
    await assert.rejects(limiter.peek('k', { cost }), InvalidOptionError)
    await limiter.close()
  })

  it('a flood of scope values keeps no more memory than the store is allowed (evicted states are not held)', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const store = createStore({ url: 'memory://', maxBytes: 1 << 20 })
    const limiter = createRateLimiter({ store, logger: false, rules: [{ name: 'u', scope: 'user', limit: 100, window: '1m', buckets: 1000 }] })
    gc()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < 10_000; i++) await limiter.consume('t', { scopes: { user: `user-${i}` } })
    gc()
    const grown = process.memoryUsage().heapUsed - before
    assert.ok(grown < 8 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(1)} MB for a 1 MiB store`)
    await limiter.close()
    await store.close()
  })

  it("a scope value read differently once does not send later calls of one user to another user's counter", async () => {
    const limiter = createRateLimiter({ logger: false, rules: [{ name: 'u', scope: 'user', limit: 3, window: '1m' }] })
    let reads = 0
    const odd = {
      get user() {
        reads++
        return reads === 3 ? 'bob' : 'alice'
      },
    }
    await limiter.consume('t', { scopes: odd as unknown as Record<string, string> })
    for (let i = 0; i < 3; i++) await limiter.consume('t', { scopes: { user: 'alice' } })
    assert.equal((await limiter.peek('t', { scopes: { user: 'bob' } })).rules[0]?.remaining, 3, 'bob never called')
    await limiter.close()
  })

  it('reset refuses a scope value that is no string, as consume does (null is not "no value")', async () => {
    const limiter = createRateLimiter({ logger: false, rules: [{ name: 'u', scope: 'user', limit: 2, window: '1m' }] })
    await limiter.consume('k', { scopes: { user: '-' } })
    await assert.rejects(limiter.consume('k', { scopes: { user: null as unknown as string } }), InvalidOptionError)
    await assert.rejects(limiter.reset('k', { scopes: { user: null as unknown as string } }))
    assert.equal((await limiter.peek('k', { scopes: { user: '-' } })).remaining, 1)
    await limiter.close()
  })
})
