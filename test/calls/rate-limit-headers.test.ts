import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { rateLimitHeaders } from '../../src/calls/limit-replies.js'
import { CallLimits, type Charge, createStore } from '../../src/index.js'

describe('rate-limit headers of a charge', () => {
  it('the policy field follows the limits each decision carries, though made once per limiter', async () => {
    const store = createStore({ url: 'memory://' })
    const limits = new CallLimits({ requests: { limit: 10, window: 60_000 }, tokens: { limit: 5_000, window: 3_600_000 } }, [], store)
    const caller = { tenant: 'acme', key: 'k1' }
    const charge = (await limits.charge(caller, 'gpt-4o-mini', undefined, undefined, 10, 20)) as Charge
    const policy = '"requests";q=10;w=60, "tokens";q=5000;w=3600'
    assert.match(rateLimitHeaders(charge).ratelimit ?? '', /^"requests";r=9;t=\d+, "tokens";r=4970;t=\d+$/)
    assert.equal(rateLimitHeaders(charge)['ratelimit-policy'], policy)
    const again = (await limits.charge(caller, 'gpt-4o-mini', undefined, undefined, 10, 20)) as Charge
    assert.equal(again.windows, charge.windows, 'one windows object per limiter: what the field is kept by')
    assert.equal(rateLimitHeaders(again)['ratelimit-policy'], policy)
    // A fallback decision carries an instance's share of each limit: the field says so, and goes back after.
    const share = { ...charge, decision: { ...charge.decision, rules: charge.decision.rules.map((rule) => ({ ...rule, limit: rule.limit / 2 })) } }
    assert.equal(rateLimitHeaders(share)['ratelimit-policy'], '"requests";q=5;w=60, "tokens";q=2500;w=3600')
    const fewer = { ...charge, decision: { ...charge.decision, rules: charge.decision.rules.slice(0, 1) } }
    assert.equal(rateLimitHeaders(fewer)['ratelimit-policy'], '"requests";q=10;w=60')
    assert.equal(rateLimitHeaders(again)['ratelimit-policy'], policy)
    await limits.close()
    await store.close()
  })
})
