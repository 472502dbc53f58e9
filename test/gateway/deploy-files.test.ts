import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { parse } from 'yaml'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { RedisServer } from '../harness/redis-server.js'
import { type RunningGateway, startGateway } from './helpers.js'

interface Rule {
  alert: string
  expr: string
  for: string
  labels: { severity: string }
  annotations: { summary: string; description: string }
}

/** The metric families a query names (a histogram's `_bucket`, `_sum` and `_count` are its family). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\btollgate_[a-z0-9_]+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, ''))
}

/** Brackets of every kind balance, in order: a cheap guard against a query broken while editing. */
function balanced(expr: string): boolean {
  const open: string[] = []
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' }
  for (const char of expr.replace(/"[^"]*"/g, '""')) {
    if ('([{'.includes(char)) open.push(char)
    else if (char in pairs && open.pop() !== pairs[char]) return false
  }
  return open.length === 0
}

describe('deploy/: the Grafana dashboard and the Prometheus alerts name metrics that exist', () => {
  let upstream: FakeUpstream
  let redis: RedisServer
  let gw: RunningGateway
  let families: Set<string>
  before(async () => {
    upstream = await startFakeUpstream()
    redis = await RedisServer.start()
    // Every optional family on: a bus (Redis), budgets, per-key labels.
    gw = await startGateway(upstream.url, { store: { url: redis.url }, limits: { dailyBudgetUsd: 1 }, metrics: { keyLabels: true } })
    const text = await (await fetch(`${gw.url}/metrics`)).text()
    families = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map(([, name]) => name as string))
  })
  after(async () => {
    await gw?.close()
    await upstream?.close()
    await redis?.stop()
  })

  it('deploy/prometheus/alerts.yml: well-formed rules over existing metrics', () => {
    const { groups } = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }
    const rules = groups.flatMap((group) => group.rules)
    const names = rules.map((rule) => rule.alert)
    for (const wanted of ['TollgateStoreDown', 'TollgateLimitsOnFallback', 'TollgateBudgetNearlyExhausted', 'TollgateHitRatioCollapsed', 'TollgateUpstreamErrors']) assert.ok(names.includes(wanted), wanted)
    for (const rule of rules) {
      assert.match(rule.for, /^\d+[smh]$/, `${rule.alert}: for`)
      assert.ok(['critical', 'warning', 'info'].includes(rule.labels.severity), `${rule.alert}: severity`)
      assert.ok(rule.annotations.summary && rule.annotations.description, `${rule.alert}: annotations`)
      assert.ok(balanced(rule.expr), `${rule.alert}: brackets`)
      const used = metricsIn(rule.expr)
      assert.ok(used.length > 0, `${rule.alert} names a metric`)
      for (const name of used) assert.ok(families.has(name), `${rule.alert}: ${name} is served by /metrics`)
    }
  })

  it('deploy/grafana/tollgate.json: every panel queries existing metrics', () => {
    const dashboard = JSON.parse(readFileSync('deploy/grafana/tollgate.json', 'utf8')) as { uid: string; panels: Array<{ title: string; targets: Array<{ expr: string }> }> }
    assert.equal(dashboard.uid, 'tollgate')
    const titles = dashboard.panels.map((panel) => panel.title)
    for (const wanted of ['USD saved', 'Hit ratio', 'Requests/s by cache status', '429s by rule', 'Upstream latency', 'Gateway overhead', 'Store and bus']) assert.ok(titles.includes(wanted), wanted)
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, `${panel.title} has queries`)
      for (const { expr } of panel.targets) {
        assert.ok(balanced(expr), `${panel.title}: brackets in ${expr}`)
        for (const name of metricsIn(expr)) assert.ok(families.has(name), `${panel.title}: ${name} is served by /metrics`)
      }
    }
  })
})
