import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Settlements } from '../../src/calls/settlements.js'
import { CallLimits, createRateLimiter, createStore, RateLimiter } from '../../src/index.js'

/** The limiters here have one rule, `tokens`. */
const tokensOnly = (_limiter: unknown, _requests: number, tokens: number) => ({ tokens })

describe('settlements of one event-loop turn', () => {
  it('sum per set of counters into one adjustment, and count exactly what one by one would', async () => {
    const store = createStore({ url: 'memory://' })
    const limiter = createRateLimiter({ store, rules: [{ name: 'tokens', limit: 1000, window: 60_000 }] })
    let adjustments = 0
    const adjust = limiter.adjust.bind(limiter)
    limiter.adjust = (...args) => {
      adjustments++
      return adjust(...args)
    }
    const told: number[] = []
    const settlements = new Settlements(tokensOnly, (_scopes, decision) => told.push(decision.remaining))
    await limiter.consume('acme', { cost: 600 })
    for (let i = 0; i < 50; i++) settlements.add(limiter, 'acme', { key: 'k', model: 'm' }, 0, -10, 0)
    settlements.add(limiter, 'globex', { key: 'k', model: 'm' }, 0, 5, 0)
    await settlements.settled()
    assert.equal(adjustments, 2, 'one per set of counters')
    assert.equal((await limiter.peek('acme', { cost: 0 })).remaining, 900, '600 taken, 500 given back')
    assert.equal(told.length, 2)
    await limiter.close()
    await store.close()
  })

  it('skips a set whose costs sum to nothing, and settled() returns even when an adjustment fails', async () => {
    const store = createStore({ url: 'memory://' })
    const limiter = createRateLimiter({ store, rules: [{ name: 'tokens', limit: 1000, window: 60_000 }] })
    let adjustments = 0
    limiter.adjust = async () => {
      adjustments++
      throw new Error('store gone')
    }
    const settlements = new Settlements(tokensOnly, () => assert.fail('nothing was applied'))
    settlements.add(limiter, 'acme', { key: 'k', model: 'm' }, 0, 10, 0)
    settlements.add(limiter, 'acme', { key: 'k', model: 'm' }, 0, -10, 0)
    settlements.add(limiter, 'acme', { key: 'j', model: 'm' }, 0, 1, 0)
    await settlements.settled()
    assert.equal(adjustments, 1)
    await limiter.close()
    await store.close()
  })

  it('apply to the right counters when tenant, key, model and user names run into each other', async () => {
    const store = createStore({ url: 'memory://', evict: false })
    const limits = new CallLimits({ tokens: { limit: 1_000, window: 60_000 }, user: { tokens: { limit: 1_000, window: 60_000 } } }, [], store, 1, false)
    const caller = { tenant: 'acme', key: 'k' }
    const first = await limits.charge(caller, 'm', 'a|user=1:b', undefined, 100, 0)
    const second = await limits.charge(caller, 'm', 'a', undefined, 300, 0)
    limits.settle(first!, null)
    limits.settle(second!, { prompt_tokens: 300, completion_tokens: 0, total_tokens: 300 })
    await limits.settled()
    const after = await limits.charge(caller, 'm', 'a', undefined, 0, 0)
    const rule = (name: string) => after!.decision.rules.find((each) => each.name === name)!
    assert.equal(rule('tokens').remaining, 700, 'the key: 300 kept, 100 given back')
    assert.equal(rule('user-tokens').remaining, 700, "user 'a' kept its 300; the other user's refund is not its own")
    await limits.close()
    await store.close()
  })

  it('sum what a limiter has no rule for as nothing: it never splits the sum of a turn in two', async () => {
    const store = createStore({ url: 'memory://', evict: false })
    const limits = new CallLimits({ tokens: { limit: 1_000, window: 60_000 } }, [], store, 1, false)
    const caller = { tenant: 'acme', key: 'k' }
    // 6e11 micro-USD each: together past what one adjustment takes, had the limiter a budget to count them in.
    const price = { input: 6e9, output: 0 }
    const first = await limits.charge(caller, 'm', undefined, price, 100, 0)
    const second = await limits.charge(caller, 'm', undefined, price, 100, 0)
    let adjustments = 0
    const adjust = RateLimiter.prototype.adjust
    RateLimiter.prototype.adjust = function (...args) {
      adjustments++
      return adjust.apply(this, args)
    }
    try {
      limits.settle(first!, null)
      limits.settle(second!, null)
      await limits.settled()
    } finally {
      RateLimiter.prototype.adjust = adjust
    }
    assert.equal(adjustments, 1, 'one set of counters, one adjustment')
    const after = await limits.charge(caller, 'm', undefined, undefined, 0, 0)
    assert.equal(after!.decision.rules[0]?.remaining, 1_000, 'both estimates given back')
    await limits.close()
    await store.close()
  })
})
