import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway } from './helpers.js'

const ADMIN_TOKEN = 'dashboard-samples-admin-token'

/** The part of the page's samples.js (plain browser JS, no DOM needed) these tests use. */
interface SamplesModule {
  Samples: new () => {
    add(stats: unknown): void
    derive(): { t: number[]; requests: { labels: string[]; values: Array<Array<number | null>> }; blocked: { labels: string[]; values: Array<Array<number | null>> } }
  }
}
const { Samples } = (await import(new URL('../../src/gateway/dashboard/samples.js', import.meta.url).href)) as SamplesModule

const STARTED_AT = '2026-11-22T10:00:00.000Z'

/** An /admin/stats answer at `uptimeSeconds` with `hits` HITs and `refused` 429s so far. */
function statsAt(uptimeSeconds: number, hits: number, refused: number): unknown {
  const quantiles = { p50: null, p95: null, p99: null }
  return {
    startedAt: STARTED_AT,
    uptimeSeconds,
    requests: { total: hits + refused, byCache: { HIT: hits, STALE: 0, MISS: 0, BYPASS: 0 }, byStatus: {} },
    cache: { hitRatio: 1 },
    money: { savedUsd: 0, spentUsd: 0 },
    limits: { refused, blocked: { 'user-requests': refused } },
    upstream: { latency: quantiles },
    overhead: quantiles,
  }
}

describe('dashboard samples', () => {
  it('a steady rate polled at uneven intervals is drawn steady: rates are over the uptime between answers', () => {
    const samples = new Samples()
    // 10 HITs and 2 refusals a second; the polls land 2.5 to 3.5 s apart, as a loaded browser's do.
    // Whole seconds of uptime (3, 6, 9, 12, 16) would draw 8.3 to 11.7 HITs/s.
    for (const uptime of [3, 5.5, 9, 12, 15.5]) samples.add(statsAt(uptime, uptime * 10, uptime * 2))
    const derived = samples.derive()
    const [hits] = derived.requests.values
    const [refused] = derived.blocked.values
    assert.equal(hits?.[0], null, 'the first sample is the baseline')
    for (const rate of hits!.slice(1)) assert.ok(Math.abs(rate! - 10) < 1e-6, `HIT/s ${rate}`)
    for (const rate of refused!.slice(1)) assert.ok(Math.abs(rate! - 2) < 1e-6, `429/s ${rate}`)
  })

  describe('against a gateway', () => {
    let upstream: FakeUpstream
    let gw: RunningGateway
    before(async () => {
      upstream = await startFakeUpstream()
      gw = await startGateway(upstream.url, { admin: { token: ADMIN_TOKEN } })
    })
    after(async () => {
      await gw?.close()
      await upstream?.close()
    })

    it("a sample is timed at the gateway's answer, to the millisecond, not rounded to whole seconds", async () => {
      // Same process, same clock: the answer's time lies between the request and its reply.
      for (let i = 0; i < 3; i++) {
        const samples = new Samples()
        const sent = Date.now()
        const response = await fetch(`${gw.url}/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
        samples.add(await response.json())
        const replied = Date.now()
        const [t] = samples.derive().t
        assert.ok(t! >= sent / 1000 - 1e-6 && t! <= replied / 1000 + 1e-6, `sample at ${t}, between ${sent / 1000} and ${replied / 1000}`)
      }
    })
  })
})
