import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatStats } from '../../src/cli/stats.js'
import { usd } from '../../src/cli/table.js'
import type { AdminStats } from '../../src/gateway/admin/admin-stats.js'

const NO_QUANTILES = { p50: null, p95: null, p99: null }

/** An /admin/stats answer: two requests, each refused by two rules at once, and sub-cent money. */
function answer(extra: Partial<AdminStats> = {}): AdminStats {
  return {
    version: '0.1.0',
    startedAt: '2026-11-22T10:00:00.000Z',
    uptimeSeconds: 3725.25,
    requests: { total: 3, byCache: { HIT: 1, STALE: 0, MISS: 0, BYPASS: 0 }, byStatus: { '200': 1, '429': 2 } },
    cache: { hits: { l1: 1, l2: 0 }, misses: 0, stale: 0, coalesced: 0, loaderErrors: 0, hitRatio: 1, tierHitRatio: { l1: 1, l2: 0 }, l1: { entries: 1, bytes: 2048 }, circuit: 'none', bus: 'none' },
    upstream: { calls: 0, callsAvoided: 1, retries: 0, errors: {}, latency: NO_QUANTILES, timeToFirstToken: NO_QUANTILES },
    overhead: NO_QUANTILES,
    money: {
      spentUsd: 0,
      savedUsd: 0.0000234,
      promptTokens: 12,
      completionTokens: 3,
      topTenants: [{ name: 'acme', spentUsd: 0, savedUsd: 0.0000234, upstreamCalls: 0, cacheHits: 1 }],
      topModels: [],
    },
    limits: { allowed: 1, refused: 2, blocked: { 'user-requests': 2, 'key-requests': 2 }, fallbackDecisions: 0, fallbackSwitches: 0, onFallback: false },
    store: { kind: 'memory', name: 'memory', status: 'ok' },
    ...extra,
  }
}

describe('tollgate stats tables', () => {
  it('limits refused counts requests, not the rules that refused them', () => {
    const text = formatStats(answer(), 'http://127.0.0.1:8080')
    assert.match(text, /^ {2}limits refused +2 +by rule: user-requests 2, key-requests 2$/m)
    assert.match(text, /up 1h 2m 5s/)
  })

  it('sub-cent amounts keep two significant digits; larger ones four decimals', () => {
    assert.equal(usd(0.0000234), '$0.000023')
    assert.equal(usd(0.00123), '$0.0012')
    assert.equal(usd(0.3698), '$0.3698')
    assert.equal(usd(12.5), '$12.5000')
    assert.equal(usd(0), '$0.0000')
    const text = formatStats(answer(), 'http://127.0.0.1:8080')
    assert.match(text, /^ {2}USD saved +\$0\.000023$/m)
    assert.match(text, /^ {2}acme +\$0\.0000 +\$0\.000023 +0 +1$/m)
  })

  it("shows the limits' own store, with its Redis figures, when the limits have one", () => {
    assert.doesNotMatch(formatStats(answer(), 'http://127.0.0.1:8080'), /limits store/)
    const redis = { usedMemoryBytes: 3 * 1024 * 1024, maxmemoryPolicy: 'noeviction', keys: 42, connectedClients: 3, keyspaceHitRatio: null }
    const text = formatStats(answer({ limitsStore: { kind: 'redis', name: 'redis://10.0.0.5:6379/0', status: 'degraded', detail: 'limits decided by the fallback', redis } }), 'http://127.0.0.1:8080')
    assert.match(text, /^ {2}store +ok +memory memory$/m)
    assert.match(text, /^ {2}limits store +degraded +redis redis:\/\/10\.0\.0\.5:6379\/0: limits decided by the fallback$/m)
    assert.match(text, /^ {2}limits redis +3\.0 MiB used, 42 keys, 3 clients, maxmemory-policy noeviction, keyspace hits -$/m)
  })
})
