import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { rateLimitHeaders } from '../../src/calls/limit-replies.js'
import { CallLimits, type Charge, createStore, ManualClock } from '../../src/index.js'

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

  it('every reply says where its own decision stands, though a limit and a reset are worked out once per change', async () => {
    const clock = new ManualClock(1_700_000_000_000 - (1_700_000_000_000 % 60_000))
    const store = createStore({ url: 'memory://', clock })
    const limits = new CallLimits({ requests: { limit: 10, window: 60_000 }, tokens: { limit: 5_000, window: 60_000 }, dailyBudgetUsd: 1 }, [], store)
    const caller = { tenant: 'acme', key: 'k1' }
    const price = { input: 1, output: 1 }
    const headers = async (tokens: number) => rateLimitHeaders((await limits.charge(caller, 'gpt-4o-mini', undefined, price, tokens, 0)) as Charge)
    const first = await headers(100)
    assert.equal(first['x-ratelimit-remaining-requests'], '9')
    assert.equal(first['x-ratelimit-remaining-tokens'], '4900')
    assert.equal(first['x-ratelimit-limit-tokens'], '5000')
    clock.advance(30_000)
    const second = await headers(200)
    assert.equal(second['x-ratelimit-remaining-requests'], '8')
    assert.equal(second['x-ratelimit-remaining-tokens'], '4700')
    assert.match(second['x-ratelimit-reset-requests'] ?? '', /^\d+m\d+s$/)
    const items = (field: string | undefined) => (field ?? '').split(', ')
    assert.match(items(second.ratelimit)[0] as string, /^"requests";r=8;t=\d+$/)
    assert.match(items(second.ratelimit)[1] as string, /^"tokens";r=4700;t=\d+$/)
    assert.match(items(second.ratelimit)[2] as string, /^"budget";r=999700;t=\d+$/)
    const seconds = (field: string | undefined, i: number) => Number(/;t=(\d+)$/.exec(items(field)[i] as string)?.[1])
    assert.equal(seconds(first.ratelimit, 2) - seconds(second.ratelimit, 2), 30, "the budget's day is 30 s nearer its end")
    // The text of the first reply is its own: a later reply does not change it.
    assert.equal(first['x-ratelimit-remaining-tokens'], '4900')
    await limits.close()
    await store.close()
  })
})
