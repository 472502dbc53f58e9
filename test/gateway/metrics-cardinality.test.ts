import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CostLedger } from '../../src/calls/cost-ledger.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { scrape, startGateway } from './helpers.js'

/** The distinct values `label` takes across the series of `/metrics`. */
function labelValues(series: Map<string, number>, label: string): Set<string> {
  const values = new Set<string>()
  const pattern = new RegExp(`[{,]${label}="([^"]*)"`)
  for (const name of series.keys()) {
    const found = pattern.exec(name)?.[1]
    if (found !== undefined) values.add(found)
  }
  return values
}

describe('metric cardinality stays capped', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream?.close())

  it('10,000 distinct tenants and models collapse to the configured number plus other', async () => {
    const gw = await startGateway(upstream.url, { metrics: { maxTenantLabels: 20, maxModelLabels: 30 } })
    try {
      const events = gw.gateway.producer.events
      for (let i = 0; i < 10_000; i++) {
        const usage = { tenant: `tenant-${i}`, model: `model-${i}`, usd: 0.001, promptTokens: 10, completionTokens: 5 }
        events.emit('spent', usage)
        events.emit('saved', usage)
        events.emit('upstream', { upstream: 'fake', model: `model-${i}`, tenant: `tenant-${i}`, seconds: 0.5 })
      }
      const m = await scrape(gw.url)
      const tenants = labelValues(m, 'tenant')
      const models = labelValues(m, 'model')
      assert.equal(tenants.size, 21, 'twenty tenants and other')
      assert.equal(models.size, 31, 'thirty models and other')
      assert.ok(tenants.has('other') && models.has('other'))
      // Nothing is lost by collapsing: the totals still add up.
      const spent = [...m].filter(([name]) => name.startsWith('tollgate_spent_usd_total{')).reduce((total, [, usd]) => total + usd, 0)
      assert.ok(Math.abs(spent - 10) < 1e-6, `spent adds up to 10 USD: ${spent}`)
      assert.ok(m.size < 2_000, `series in all: ${m.size}`)
    } finally {
      await gw.close()
    }
  })

  it('model names sent by callers through the gateway are capped too', async () => {
    const gw = await startGateway(upstream.url, { metrics: { maxModelLabels: 5 } })
    try {
      const client = gw.client()
      for (let i = 0; i < 40; i++) await client.chat.completions.create({ model: `made-up-model-${i}`, messages: [{ role: 'user', content: 'hi' }] })
      const models = labelValues(await scrape(gw.url), 'model')
      assert.equal(models.size, 6)
      assert.ok(models.has('other'))
    } finally {
      await gw.close()
    }
  })

  it('callers cannot crowd out the configured models or take slots with calls the upstream refused', async () => {
    const gw = await startGateway(upstream.url, {
      upstreams: [{ name: 'fake', baseUrl: upstream.url, apiKey: 'upstream-secret', maxRetries: 0, models: ['gpt-4o', '*'] }],
      metrics: { maxModelLabels: 3 },
    })
    try {
      const client = gw.client()
      const ask = (model: string, content = 'hi') => client.chat.completions.create({ model, messages: [{ role: 'user', content }] })
      for (let i = 0; i < 30; i++) await assert.rejects(ask(`junk-${i}`, 'refused [fail:404]'), { status: 404 })
      await ask('gpt-4o-mini')
      for (let i = 0; i < 10; i++) await ask(`made-up-${i}`)
      await ask('gpt-4o')
      const models = labelValues(await scrape(gw.url), 'model')
      assert.ok(models.has('gpt-4o'), 'the configured model keeps its label')
      assert.ok(models.has('gpt-4o-mini'), 'refused calls took no slot')
      assert.ok(![...models].some((model) => model.startsWith('junk-')))
      assert.equal(models.size, 4, `three labels and other: ${[...models].join(', ')}`)
    } finally {
      await gw.close()
    }
  })

  it('the cost ledger keeps a bounded number of lines, and the totals', () => {
    const ledger = new CostLedger(100)
    for (let i = 0; i < 10_000; i++) ledger.record(`tenant-${i % 3}`, `model-${i}`, i % 2 === 0, 1, 1, 1)
    const lines = ledger.lines()
    assert.ok(lines.length <= 103, `lines: ${lines.length}`)
    assert.equal(lines.reduce((total, line) => total + line.upstreamCalls + line.cacheHits, 0), 10_000)
    assert.ok(lines.some((line) => line.model === 'other'))
  })
})
