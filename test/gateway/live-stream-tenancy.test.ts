import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { firstChunk, readRest, type RunningGateway, startGateway, TWO_TENANTS } from './helpers.js'

const chat = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream: true })

describe('live streams are joined only inside the cache namespace that could have served them', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream({ chunkDelayMs: 20 })
    gw = await startGateway(upstream.url, {
      auth: 'keys',
      keys: TWO_TENANTS,
      limits: { tokens: { limit: 1_000_000, window: '1m' } },
    })
  })
  after(async () => {
    await gw.close()
    await upstream.close()
  })
  const as = (key: string, body: object, headers: Record<string, string> = {}) => gw.post('/v1/chat/completions', body, { authorization: `Bearer ${key}`, ...headers })

  it('tenant B, streaming the same request at the same moment as tenant A, gets its own upstream call', async () => {
    upstream.reset()
    const leader = await as('key-a1', chat('concurrent secret'))
    const reader = await firstChunk(leader)
    const others = await Promise.all([as('key-b1', chat('concurrent secret')), as('key-a2', chat('concurrent secret'))])
    const [bravo, acme] = others
    assert.equal(bravo!.headers.get('x-tollgate-cache'), 'MISS', 'another tenant never joins')
    assert.equal(acme!.headers.get('x-tollgate-cache'), 'HIT', 'another key of the same tenant joins the live stream')
    await Promise.all([readRest(reader), bravo!.text(), acme!.text()])
    assert.equal(upstream.calls['/v1/chat/completions'], 2, 'one call per tenant')
    await gw.gateway.limitsSettled()
    const lines = gw.gateway.ledger.lines()
    const bravoLine = lines.find((l) => l.tenant === 'bravo')
    assert.equal(bravoLine?.upstreamCalls, 1, 'tenant B paid for its own call')
    const acmeLine = lines.find((l) => l.tenant === 'acme')
    assert.equal(acmeLine?.upstreamCalls, 1)
    assert.equal(acmeLine?.cacheHits, 1, 'the follower is settled like a hit')
    assert.ok((acmeLine?.savedUsd ?? 0) > 0, 'and its saving recorded')
  })

  it('a follower gets its token estimate back, like a hit', async () => {
    const before = await as('key-a2', { ...chat('probe'), stream: false })
    await before.text()
    await gw.gateway.limitsSettled()
    const remainingBefore = Number(before.headers.get('x-ratelimit-remaining-tokens'))
    const leader = await as('key-a1', chat('refund for followers'))
    const reader = await firstChunk(leader)
    const follower = await as('key-a2', chat('refund for followers'))
    assert.equal(follower.headers.get('x-tollgate-cache'), 'HIT')
    await Promise.all([readRest(reader), follower.text()])
    await gw.gateway.limitsSettled()
    const after = await as('key-a2', { ...chat('probe'), stream: false })
    await after.text()
    // Between the probes' charges: the first probe's and the leader's real usage; a follower that kept
    // its estimate would add 256 tokens of max_tokens on top.
    const used = remainingBefore - Number(after.headers.get('x-ratelimit-remaining-tokens'))
    const ledger = gw.gateway.ledger.lines().find((l) => l.tenant === 'acme')!
    assert.ok(used > 0 && used < 200, `the follower's estimate (${used}) came back`)
    assert.ok(ledger.cacheHits >= 2)
  })

  it('a no-store stream is never joinable', async () => {
    upstream.reset()
    const leader = await as('key-a1', chat('private stream'), { 'cache-control': 'no-store' })
    const reader = await firstChunk(leader)
    const second = await as('key-a2', chat('private stream'))
    assert.equal(second.headers.get('x-tollgate-cache'), 'MISS')
    await Promise.all([readRest(reader), second.text()])
    assert.equal(upstream.calls['/v1/chat/completions'], 2)
  })
})
