import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createGateway, DEFAULT_PRICES, parseConfig, Pricing } from '../../src/index.js'
import { estimatePromptTokens } from '../../src/llm/usage-estimate.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway, useGateway } from './helpers.js'

const chat = (content: unknown, extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra })

describe('token and budget accounting fails closed', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream.close())

  /** Tokens left, read from a cached probe: a hit's own estimate is in its header and refunded after. */
  async function remainingTokens(gw: RunningGateway): Promise<number> {
    const probe = await gw.post('/v1/chat/completions', chat('probe'))
    await probe.text()
    await gw.gateway.limitsSettled()
    assert.equal(probe.headers.get('x-tollgate-cache'), 'HIT')
    return Number(probe.headers.get('x-ratelimit-remaining-tokens'))
  }

  it('a reply without usage is charged an estimate, streamed or not, instead of being refunded', async () => {
    const gw = await startGateway(upstream.url, { limits: { tokens: { limit: 100_000, window: '1m' } } })
    try {
      await (await gw.post('/v1/chat/completions', chat('probe'))).text()
      for (const stream of [false, true]) {
        const start = await remainingTokens(gw)
        const response = await gw.post('/v1/chat/completions', { ...chat(`no usage here [nousage] ${stream}`, { stream, max_tokens: 50 }), model: 'gpt-4o' })
        await response.text()
        await gw.gateway.limitsSettled()
        const end = await remainingTokens(gw)
        assert.ok(start - end > 0, `charged ${start - end} tokens`)
      }
      const line = gw.gateway.ledger.lines().find((l) => l.model === 'gpt-4o')
      assert.ok((line?.spentUsd ?? 0) > 0 && (line?.promptTokens ?? 0) > 0, 'the ledger has the estimate')
    } finally {
      await gw.close()
    }
  })

  it('unpricedModel: deny refuses an unpriced model with a 400 naming it; estimate charges it; allow counts it free', async () => {
    const body = { model: 'my-finetune', messages: [{ role: 'user', content: 'hi' }] }
    const deny = await startGateway(upstream.url, { unpricedModel: 'deny' })
    const estimate = await startGateway(upstream.url, {})
    const allow = await startGateway(upstream.url, { unpricedModel: 'allow' })
    try {
      const refused = await deny.post('/v1/chat/completions', body)
      assert.equal(refused.status, 400)
      const error = ((await refused.json()) as { error: { code: string; param: string; message: string } }).error
      assert.equal(error.code, 'model_not_priced')
      assert.equal(error.param, 'model')
      assert.match(error.message, /my-finetune/)
      const charged = await estimate.post('/v1/chat/completions', body)
      await charged.text()
      assert.ok(Number(charged.headers.get('x-tollgate-cost-usd')) > 0, 'the default (estimate) prices it')
      const free = await allow.post('/v1/chat/completions', body)
      await free.text()
      assert.equal(free.headers.get('x-tollgate-cost-usd'), '0.000000')
    } finally {
      await Promise.all([deny.close(), estimate.close(), allow.close()])
    }
  })

  it('a budget bites on an unpriced model under the default', async () => {
    const gw = await startGateway(upstream.url, { limits: { dailyBudgetUsd: 0.002 } })
    try {
      const statuses: number[] = []
      for (let i = 0; i < 10; i++) {
        const response = await gw.post('/v1/chat/completions', { model: 'mystery-model', messages: [{ role: 'user', content: `q${i}` }], max_tokens: 10 })
        await response.text()
        await gw.gateway.limitsSettled()
        statuses.push(response.status)
      }
      assert.ok(statuses.includes(429), `the budget was spent: ${statuses.join(',')}`)
    } finally {
      await gw.close()
    }
  })

  it('warns at start about configured models without a price', () => {
    const config = parseConfig({ upstreams: [{ name: 'u', baseUrl: upstream.url, models: ['gpt-4o-mini', 'my-finetune'], aliases: { house: 'house-model-v2' } }] })
    const gateway = createGateway(config)
    try {
      assert.equal(gateway.warnings.length, 1)
      assert.match(gateway.warnings[0]!, /my-finetune/)
      assert.match(gateway.warnings[0]!, /house/)
      assert.doesNotMatch(gateway.warnings[0]!, /gpt-4o-mini/)
    } finally {
      void gateway.close()
    }
  })

  it('the built-in table prices the current models of OpenAI, Anthropic, Mistral, Groq and common open models', () => {
    const pricing = new Pricing({}, 'deny')
    for (const model of ['gpt-5', 'gpt-5-mini', 'gpt-4.1-nano', 'gpt-4o-mini-2024-07-18', 'o3', 'o4-mini', 'text-embedding-3-small', 'claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5', 'mistral-large-latest', 'mistral-small-latest', 'codestral-latest', 'llama-3.3-70b-versatile', 'llama-3.1-8b-instant', 'openai/gpt-oss-120b', 'deepseek-chat', 'gemini-2.5-flash']) {
      const price = pricing.priceFor(model)
      assert.ok(price && price.input > 0, `${model} has a price`)
    }
    assert.ok(DEFAULT_PRICES.size > 100)
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) assert.throws(() => pricing.priceFor(name), { code: 'E_MODEL_NOT_PRICED' })
  })

  it('an image is counted as an image, not as its base64 text', async () => {
    const image = `data:image/png;base64,${Buffer.alloc(900_000, 7).toString('base64')}`
    const content = [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: image } }]
    assert.ok(estimatePromptTokens(chat(content)) < 1_000)
    const gw = await startGateway(upstream.url, { limits: { tokens: { limit: 5_000, window: '1m' } } })
    try {
      const response = await gw.post('/v1/chat/completions', chat(content))
      await response.text()
      assert.equal(response.status, 200, 'a 1.2 MB image fits a 5,000-token limit')
    } finally {
      await gw.close()
    }
  })
})

describe('cost headers and budget refusals say what happened', () => {
  const env = useGateway({ limits: { dailyBudgetUsd: 0.05 } })

  it('a reply without usage reports the estimated cost, and a hit on it the estimated saving', async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: `${'long prompt '.repeat(200)}[nousage]` }], max_tokens: 5 }
    const miss = await env.gw.post('/v1/chat/completions', body)
    await miss.text()
    assert.ok(Number(miss.headers.get('x-tollgate-cost-usd')) > 0)
    const hit = await env.gw.post('/v1/chat/completions', body)
    await hit.text()
    assert.ok(Number(hit.headers.get('x-tollgate-saved-usd')) > 0)
  })

  it('a request whose estimate alone is over the whole budget is told so, not that the budget is spent', async () => {
    const response = await env.gw.post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'expensive' }], max_tokens: 1_000_000 })
    assert.equal(response.status, 429)
    const error = ((await response.json()) as { error: { message: string; code: string } }).error
    assert.equal(error.code, 'budget_exceeded')
    assert.match(error.message, /more than this key's whole daily budget/)
  })
})
