import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'
import { type RunningGateway, scrape, startGateway, within } from './helpers.js'

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], ...extra })
const value = (series: Map<string, number>, name: string) => series.get(name) ?? 0

describe('GET /metrics after a scripted sequence', () => {
  let upstream: FakeUpstream
  let redis: RedisServer
  let gw: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    redis = await RedisServer.start()
    gw = await startGateway(upstream.url, {
      store: { url: redis.url, commandTimeout: 200 },
      limits: { user: { requests: { limit: 1, window: '1m' } }, dailyBudgetUsd: 5 },
    })
  })
  after(async () => {
    await gw?.close()
    await upstream?.close()
    await redis?.stop()
  })

  it('counts misses, hits by tier, coalesced calls, 429s by rule, money spent and saved, upstream calls', async () => {
    const client = gw.client()
    await client.chat.completions.create(chat('one'))
    await client.chat.completions.create(chat('one'))
    // Two identical calls while the first is in flight: the second waits for it (single-flight).
    const requested = upstream.whenRequested()
    const first = client.chat.completions.create(chat('two [hold]'))
    await within(requested, 'the first call upstream')
    const second = client.chat.completions.create(chat('two [hold]'))
    await within(waitFor('the second call to join', async () => value(await scrape(gw.url), 'tollgate_cache_coalesced_total{how="single-flight"}') === 1, 10_000), 'coalesced')
    upstream.release()
    await Promise.all([first, second])
    // Two identical streams: the second joins the first live.
    const streamed = async () => {
      let text = ''
      const stream = await client.chat.completions.create({ ...chat('three [hold]'), stream: true })
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
      return text
    }
    const streaming = upstream.whenRequested()
    const leader = streamed()
    await within(streaming, 'the stream upstream')
    const follower = streamed()
    await within(waitFor('the stream to be joined', async () => value(await scrape(gw.url), 'tollgate_cache_coalesced_total{how="live-stream"}') === 1, 10_000), 'joined')
    upstream.release()
    const [a, b] = await Promise.all([leader, follower])
    assert.equal(a, b)
    await client.chat.completions.create(chat('four', { user: 'u1' }))
    await assert.rejects(client.chat.completions.create(chat('five', { user: 'u1' })), { status: 429 })

    await gw.gateway.limitsSettled()
    const m = await scrape(gw.url)
    const route = 'route="/v1/chat/completions"'
    assert.equal(value(m, `tollgate_http_requests_total{${route},status="200",cache="MISS"}`), 4, 'one, two, three, four')
    assert.equal(value(m, `tollgate_http_requests_total{${route},status="200",cache="HIT"}`), 3, 'one again, the coalesced two, the joined three')
    assert.equal(value(m, `tollgate_http_requests_total{${route},status="429",cache="NONE"}`), 1)
    assert.equal(value(m, `tollgate_http_request_duration_seconds_count{${route},cache="HIT"}`), 3)
    assert.equal(value(m, `tollgate_gateway_overhead_seconds_count{${route},cache="MISS"}`), 4)
    assert.equal(value(m, 'tollgate_cache_hits_total{tier="l1"}'), 1)
    assert.equal(value(m, 'tollgate_cache_coalesced_total{how="single-flight"}'), 1)
    assert.equal(value(m, 'tollgate_cache_coalesced_total{how="live-stream"}'), 1)
    assert.equal(value(m, 'tollgate_upstream_calls_total{upstream="fake",model="gpt-4o-mini",outcome="ok"}'), 4)
    assert.equal(value(m, 'tollgate_upstream_calls_avoided_total{tenant="default",model="gpt-4o-mini"}'), 3)
    assert.equal(value(m, 'tollgate_upstream_time_to_first_token_seconds_count{upstream="fake",model="gpt-4o-mini"}'), 1)
    assert.equal(value(m, 'tollgate_ratelimit_blocked_total{rule="user-requests"}'), 1)
    assert.equal(value(m, 'tollgate_ratelimit_decisions_total{decision="allowed",source="store"}'), 7)
    assert.ok(value(m, 'tollgate_spent_usd_total{tenant="default",model="gpt-4o-mini"}') > 0)
    assert.ok(value(m, 'tollgate_saved_usd_total{tenant="default",model="gpt-4o-mini"}') > 0)
    assert.ok(value(m, 'tollgate_tokens_total{tenant="default",model="gpt-4o-mini",type="input"}') > 0)
    assert.ok(value(m, 'tollgate_tokens_saved_total{tenant="default",model="gpt-4o-mini",type="output"}') > 0)
    // Settled with the real usage, not the up-front estimate (which reserves max_tokens).
    const budget = value(m, 'tollgate_budget_remaining_ratio_min')
    const spent = value(m, 'tollgate_spent_usd_total{tenant="default",model="gpt-4o-mini"}')
    assert.ok(Math.abs(budget - (1 - spent / 5)) < 1e-5, `the budget left is what was spent: ${budget} vs ${1 - spent / 5}`)
    assert.equal(value(m, 'tollgate_store_up{store="cache"}'), 1)
    assert.equal(value(m, 'tollgate_cache_bus_up'), 1)
    assert.ok(value(m, 'tollgate_store_command_duration_seconds_count{store="cache",operation="script rate-limit"}') >= 7)
    assert.ok(m.has('tollgate_process_cpu_seconds_total'), 'process metrics')
    assert.ok(m.has('tollgate_nodejs_eventloop_lag_seconds'), 'process metrics')
  })

  it('shows a store outage: store down, limits on the fallback, store errors, and the way back', async () => {
    const client = gw.client()
    await redis.kill9()
    await client.chat.completions.create(chat('during the outage'))
    let m = await scrape(gw.url)
    assert.equal(value(m, 'tollgate_ratelimit_on_fallback'), 1)
    assert.equal(value(m, 'tollgate_ratelimit_fallback_switches_total'), 1)
    assert.ok(value(m, 'tollgate_ratelimit_decisions_total{decision="allowed",source="fallback"}') >= 1)
    assert.equal(value(m, 'tollgate_store_up{store="cache"}'), 0)
    const errors = [...m].filter(([name]) => name.startsWith('tollgate_store_errors_total{store="cache"')).reduce((total, [, count]) => total + count, 0)
    assert.ok(errors >= 1, 'store errors counted')
    await redis.restart()
    await waitFor('the limits back on the store', async () => {
      await client.chat.completions.create(chat(`after ${Math.random()}`))
      return value(await scrape(gw.url), 'tollgate_ratelimit_on_fallback') === 0
    }, 30_000)
    m = await scrape(gw.url)
    assert.equal(value(m, 'tollgate_store_up{store="cache"}'), 1)
    await waitFor('the bus back', async () => value(await scrape(gw.url), 'tollgate_cache_bus_up') === 1, 30_000)
  })

  it('counts upstream errors by class and retries', async () => {
    const client = gw.client()
    await assert.rejects(client.chat.completions.create(chat('broken [fail:503]')), { status: 503 })
    const m = await scrape(gw.url)
    assert.equal(value(m, 'tollgate_upstream_errors_total{upstream="fake",class="status_5xx"}'), 1)
    assert.equal(value(m, 'tollgate_upstream_retries_total{upstream="fake",reason="status_5xx"}'), 1, 'maxRetries: 1')
    assert.equal(value(m, 'tollgate_cache_loader_errors_total'), 1)
  })
})

describe('metrics options', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream?.close())

  it('metrics.enabled: false serves no /metrics', async () => {
    const gw = await startGateway(upstream.url, { metrics: { enabled: false } })
    try {
      const response = await fetch(`${gw.url}/metrics`)
      assert.equal(response.status, 404)
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'not_found')
    } finally {
      await gw.close()
    }
  })

  it('metrics.requireAdminToken: /metrics needs the admin token', async () => {
    const token = 'metrics-admin-token-0123'
    const gw = await startGateway(upstream.url, { admin: { token }, metrics: { requireAdminToken: true } })
    try {
      assert.equal((await fetch(`${gw.url}/metrics`)).status, 401)
      assert.equal((await fetch(`${gw.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401)
      assert.ok((await scrape(gw.url, { authorization: `Bearer ${token}` })).size > 10)
    } finally {
      await gw.close()
    }
    await assert.rejects(startGateway(upstream.url, { metrics: { requireAdminToken: true } }), /admin\.token/)
  })

  it('times requests on an in-process gateway without a logger, and takes the upstream wait out of the overhead', async () => {
    const gw = await startGateway(upstream.url)
    try {
      // The fake upstream waits 50 ms before it answers: a floor under the request's time, never a ceiling.
      await gw.client().chat.completions.create(chat('timed [slow:50]'))
      const m = await scrape(gw.url)
      const total = value(m, 'tollgate_http_request_duration_seconds_sum{route="/v1/chat/completions",cache="MISS"}')
      const upstreamWait = value(m, 'tollgate_upstream_duration_seconds_sum{upstream="fake",model="gpt-4o-mini"}')
      const overhead = value(m, 'tollgate_gateway_overhead_seconds_sum{route="/v1/chat/completions",cache="MISS"}')
      assert.ok(total >= 0.05, `the request took at least the upstream's 50 ms: ${total}`)
      assert.ok(upstreamWait >= 0.05, `so did the upstream call: ${upstreamWait}`)
      assert.ok(Math.abs(overhead - (total - upstreamWait)) < 1e-6, 'overhead is the rest')
    } finally {
      await gw.close()
    }
  })

  it('a request whose client leaves before the reply ends is counted as 499', async () => {
    const gw = await startGateway(upstream.url)
    try {
      const requested = upstream.whenRequested()
      const abort = new AbortController()
      const leaving = fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chat('leaving [hold]', { stream: true })),
        signal: abort.signal,
      })
      await within(requested, 'the call upstream')
      abort.abort()
      await assert.rejects(leaving)
      upstream.release()
      // Its call went on for the cache: a MISS whose client left.
      await within(waitFor('the 499', async () => value(await scrape(gw.url), 'tollgate_http_requests_total{route="/v1/chat/completions",status="499",cache="MISS"}') === 1, 10_000), '499')
      const m = await scrape(gw.url)
      assert.equal([...m].filter(([name]) => name.startsWith('tollgate_http_requests_total{route="/v1/chat')).reduce((total, [, count]) => total + count, 0), 1, 'counted once')
    } finally {
      await gw.close()
    }
  })

  it('raw paths never become labels: unknown routes count as unmatched', async () => {
    const gw = await startGateway(upstream.url)
    try {
      for (let i = 0; i < 20; i++) await fetch(`${gw.url}/nope/${i}`)
      const m = await scrape(gw.url)
      assert.equal(value(m, 'tollgate_http_requests_total{route="unmatched",status="404",cache="NONE"}'), 20)
      assert.ok(![...m.keys()].some((name) => name.includes('/nope/')))
    } finally {
      await gw.close()
    }
  })
})
