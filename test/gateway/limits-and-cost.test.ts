import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway } from './helpers.js'

const chat = (content: string, extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra })

describe('limits, budgets and cost', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream.close())

  describe('requests per window', () => {
    let gw: RunningGateway
    before(async () => {
      gw = await startGateway(upstream.url, { limits: { requests: { limit: 2, window: '1s' } } })
    })
    after(() => gw.close())

    it('answers the request over the limit with a 429 carrying every header and an OpenAI body', async () => {
      const ok = await gw.post('/v1/chat/completions', chat('r1'))
      assert.equal(ok.status, 200)
      assert.equal(ok.headers.get('x-ratelimit-limit-requests'), '2')
      assert.equal(ok.headers.get('x-ratelimit-remaining-requests'), '1')
      assert.match(ok.headers.get('x-ratelimit-reset-requests') ?? '', /^\d+(ms|s)$/)
      assert.equal(ok.headers.get('ratelimit-policy'), '"requests";q=2;w=1')
      assert.match(ok.headers.get('ratelimit') ?? '', /^"requests";r=1;t=\d+$/)
      await (await gw.post('/v1/chat/completions', chat('r2'))).text()
      const refused = await gw.post('/v1/chat/completions', chat('r3'))
      assert.equal(refused.status, 429)
      assert.ok(Number(refused.headers.get('retry-after')) >= 1)
      assert.ok(Number(refused.headers.get('retry-after-ms')) > 0 && Number(refused.headers.get('retry-after-ms')) <= 1_200)
      assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '0')
      assert.match(refused.headers.get('ratelimit') ?? '', /^"requests";r=0;t=\d+$/)
      const body = (await refused.json()) as { error: { type: string; code: string; message: string } }
      assert.deepEqual([body.error.type, body.error.code], ['rate_limit_exceeded', 'rate_limit_exceeded'])
      assert.match(body.error.message, /requests/)
    })

    it('the openai SDK backs off on the 429 and gets through', async () => {
      const client = gw.client('unused', { maxRetries: 3 })
      const replies = []
      for (let i = 0; i < 4; i++) replies.push(await client.chat.completions.create(chat(`sdk ${i}`) as never))
      assert.equal(replies.length, 4)
    })
  })

  describe('tokens, users and budgets', () => {
    let gw: RunningGateway
    before(async () => {
      gw = await startGateway(upstream.url, {
        auth: 'keys',
        keys: [
          { name: 'a', hash: hashKey('key-a'), tenant: 'acme' },
          { name: 'b', hash: hashKey('key-b'), tenant: 'bravo' },
          { name: 'poor', hash: hashKey('key-poor'), tenant: 'acme', limits: { dailyBudgetUsd: 0.05 } },
        ],
        limits: { tokens: { limit: 10_000, window: '1m' }, user: { requests: { limit: 1, window: '1m' } } },
        pricing: { 'gpt-4o-mini': { input: 1000, output: 1000 } },
      })
    })
    after(() => gw.close())
    const as = (key: string, body: object, headers: Record<string, string> = {}) => gw.post('/v1/chat/completions', body, { authorization: `Bearer ${key}`, ...headers })

    it('pre-charges tokens from the estimate and reconciles them with the real usage', async () => {
      const first = await as('key-a', chat('tokens one', { max_tokens: 500 }))
      const estimate = 10_000 - Number(first.headers.get('x-ratelimit-remaining-tokens'))
      assert.ok(estimate > 500, `estimate ${estimate} covers max_tokens`)
      const used = ((await first.json()) as { usage: { total_tokens: number } }).usage.total_tokens
      assert.ok(used < 100)
      await gw.gateway.limitsSettled()
      const second = await as('key-a', chat('tokens two', { max_tokens: 500 }))
      await second.text()
      assert.equal(Number(second.headers.get('x-ratelimit-remaining-tokens')), 10_000 - used - estimate, 'the first estimate was replaced by its usage')
    })

    it('a cache hit gives the token estimate back', async () => {
      await (await as('key-b', chat('hit me', { max_tokens: 100 }))).text()
      await gw.gateway.limitsSettled()
      const hit = await as('key-b', chat('hit me', { max_tokens: 100 }), { 'x-tollgate-user': 'someone' })
      assert.equal(hit.headers.get('x-tollgate-cache'), 'HIT')
      const before = Number(hit.headers.get('x-ratelimit-remaining-tokens'))
      await hit.text()
      await gw.gateway.limitsSettled()
      const next = await as('key-b', chat('after the hit', { max_tokens: 100 }), { 'x-tollgate-user': 'someone-else' })
      await next.text()
      // Refunded: the next request's own estimate (about as large as the hit's) is all that is missing.
      // Not refunded, the hit's estimate (over 100 tokens) would be missing too.
      const remaining = Number(next.headers.get('x-ratelimit-remaining-tokens'))
      assert.ok(remaining >= before - 20, `remaining ${remaining}, after the hit ${before}`)
    })

    it('per-user limits apply inside the tenant: the same user id in another tenant is someone else', async () => {
      assert.equal((await as('key-a', chat('u1', { user: 'alice' }))).status, 200)
      const again = await as('key-a', chat('u2', { user: 'alice' }))
      assert.equal(again.status, 429)
      assert.match(((await again.json()) as { error: { message: string } }).error.message, /user-requests/)
      assert.equal((await as('key-a', chat('u3'), { 'x-tollgate-user': 'bob' })).status, 200)
      assert.equal((await as('key-b', chat('u4', { user: 'alice' }))).status, 200)
    })

    it('stops a key whose daily budget is spent with insufficient_quota until the day ends', async () => {
      let refused: Response | undefined
      for (let i = 0; i < 20 && !refused; i++) {
        const response = await as('key-poor', chat(`spend ${i}`, { max_tokens: 5 }))
        await gw.gateway.limitsSettled()
        if (response.status === 429) refused = response
        else await response.text()
      }
      assert.ok(refused, 'the budget ran out')
      const body = (await refused.json()) as { error: { type: string; code: string } }
      assert.deepEqual([body.error.type, body.error.code], ['insufficient_quota', 'budget_exceeded'])
      assert.ok(Number(refused.headers.get('retry-after')) > 0 && Number(refused.headers.get('retry-after')) <= 86_400)
    })

    it('records spent cost per tenant and model on every upstream reply, saved cost on every hit', async () => {
      const miss = await as('key-b', chat('cost me'))
      const spent = Number(miss.headers.get('x-tollgate-cost-usd'))
      await miss.text()
      const hit = await as('key-b', chat('cost me'), { 'x-tollgate-user': 'carol' })
      const saved = Number(hit.headers.get('x-tollgate-saved-usd'))
      await hit.text()
      assert.ok(spent > 0)
      assert.equal(saved, spent)
      const line = gw.gateway.ledger.lines().find((l) => l.tenant === 'bravo' && l.model === 'gpt-4o-mini')
      assert.ok(line && line.upstreamCalls >= 1 && line.cacheHits >= 1 && line.spentUsd >= spent && line.savedUsd >= saved)
    })
  })
})
