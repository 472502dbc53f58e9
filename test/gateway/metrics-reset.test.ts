import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TypedEmitter } from '../../src/index.js'
import { GatewayMetrics, type MetricSources } from '../../src/gateway/metrics/gateway-metrics.js'

/** What the metrics listen to, each an emitter nothing else drives: the tests emit what they need. */
function sources(limits: TypedEmitter<Record<string, unknown>>): MetricSources {
  return {
    producer: { events: new TypedEmitter() },
    upstreams: [],
    cache: { events: new TypedEmitter(), stats: () => ({ bus: 'none', circuit: 'closed', l1: { entries: 0, bytes: 0 } }) },
    limits: { events: limits, circuit: () => 'closed' },
    stores: [],
  } as unknown as MetricSources
}

describe('gateway metrics after a registry reset', () => {
  it('allowed store decisions are still counted after the registry is reset', async () => {
    const limits = new TypedEmitter<Record<string, unknown>>()
    const metrics = new GatewayMetrics(sources(limits), {})
    const decision = { allowed: true, source: 'store', rules: [] }
    limits.emit('decision', { tenant: 't', key: 'k', decision })
    metrics.registry.resetMetrics()
    limits.emit('decision', { tenant: 't', key: 'k', decision })
    const values = (await metrics.decisions.get()).values
    assert.deepEqual(values.map((v) => [v.labels.decision, v.labels.source, v.value]), [['allowed', 'store', 1]])
    metrics.close()
  })

  it('a reset zeroes the series held by their updaters, histograms included, and counting goes on', async () => {
    const metrics = new GatewayMetrics(sources(new TypedEmitter()), {})
    metrics.observeRequest('/v1/chat/completions', 200, 'hit', 0.002, undefined)
    metrics.observeRequest('/v1/chat/completions', 200, 'hit', 0.002, undefined)
    metrics.registry.resetMetrics()
    metrics.observeRequest('/v1/chat/completions', 200, 'hit', 0.002, undefined)
    const text = await metrics.registry.metrics()
    assert.match(text, /tollgate_http_request_duration_seconds_count\{[^}]*cache="hit"[^}]*\} 1\n/)
    assert.match(text, /tollgate_http_requests_total\{[^}]*\} 1\n/)
    metrics.close()
  })
})
