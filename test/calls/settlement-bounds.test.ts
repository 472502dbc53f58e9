import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Settlements } from '../../src/calls/settlements.js'
import { createRateLimiter } from '../../src/ratelimit/rate-limiter.js'
import { createStore } from '../../src/stores/create-store.js'

// A turn's settlements are summed per counters and applied with limiter.adjust, which refuses a cost
// over 1e12 in magnitude. Each settlement alone is valid; summed into one they were not, and the
// refusal lost every one of them (found by a hostile review; reachable near the bound only: a budget
// rule counts micro-USD, 1e12 is a $1M budget).
describe('settlements whose sum passes what one adjustment takes', () => {
  it('applies settlements that are each valid, even when their sum exceeds 1e12', async () => {
    const store = createStore({ url: 'memory://', evict: false })
    const limiter = createRateLimiter({ store, rules: [{ name: 'budget', limit: 1e12, window: '1m', algorithm: 'fixed-window' }], logger: false })
    try {
      // Two calls' usage settled in one turn (each 7e11 over its estimate, each a valid adjustment).
      const settlements = new Settlements((_limiter, _requests, _tokens, microUsd) => ({ budget: microUsd }), () => {})
      settlements.add(limiter, 't', { key: 'k', model: 'm' }, 0, 0, 7e11)
      settlements.add(limiter, 't', { key: 'k', model: 'm' }, 0, 0, 7e11)
      await settlements.settled()
      const peek = await limiter.peek('t', { cost: 0 })
      assert.equal(peek.remaining, 0, `1.4e12 was spent; ${peek.remaining} is left (the summed adjustment was refused and dropped)`)
    } finally {
      await limiter.close()
      await store.close()
    }
  })
})
