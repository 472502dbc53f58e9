import type { ModelPrice } from '../../llm/pricing.js'
import { formatTable, percent, usd } from '../table.js'

/** What the demo's table shows: the clients' view, the gateway's accounting and the fake upstream's count. */
export interface DemoFigures {
  /** Requests sent through the gateway. */
  requests: number
  /** Of them, answered with a whole completion. */
  answered: number
  /** Of them, refused with a 429. */
  refused: number
  /** Of them, failed otherwise (neither); the first failure's message. */
  failed: number
  firstFailure?: string | undefined
  /** The gateway's own figures (`/admin/stats`). */
  gateway: {
    upstreamCalls: number
    callsAvoided: number
    hitRatio: number
    spentUsd: number
    savedUsd: number
    /** 429s by rule name. */
    blocked: Record<string, number>
  }
  /** Calls the fake upstream counted from the gateway's key. */
  upstreamCounted: number
  pricing: ReadonlyArray<{ model: string; price: ModelPrice }>
  pricesAsOf: string
  userLimit: { limit: number; windowMs: number }
  /** Milliseconds to the whole reply: every request sent straight to the upstream, and each answered through the gateway. */
  latency: { direct: number[]; gateway: number[] }
}

/** The demo's closing table, as printed. */
export function formatReport(figures: DemoFigures): string {
  const { gateway } = figures
  const withoutCache = gateway.spentUsd + gateway.savedUsd
  const summary = [
    ['requests', String(figures.requests), ''],
    ['answered', String(figures.answered), ''],
    ['refused (429)', String(figures.refused), 'by the per-user limit, below'],
    ...(figures.failed > 0 ? [['failed', String(figures.failed), `first: ${figures.firstFailure ?? '?'}`]] : []),
    ['upstream calls made', String(gateway.upstreamCalls), `the fake upstream counted ${figures.upstreamCounted}`],
    ['upstream calls avoided', String(gateway.callsAvoided), 'cache hits and joined calls in flight'],
    ['hit ratio', percent(gateway.hitRatio), ''],
    ['USD spent', usd(gateway.spentUsd), ''],
    ['USD saved', usd(gateway.savedUsd), withoutCache > 0 ? `${percent(gateway.savedUsd / withoutCache)} of ${usd(withoutCache)} without the cache` : ''],
  ]
  const prices = figures.pricing.map(({ model, price }) => `${model} $${price.input.toFixed(2)} in / $${price.output.toFixed(2)} out`).join(', ')
  const latency = [
    ['latency (s)', 'without cache', 'with tollgate'],
    ...(['p50', 'p95', 'p99'] as const).map((q) => {
      const rank = Number(q.slice(1)) / 100
      return [q, seconds(quantile(figures.latency.direct, rank)), seconds(quantile(figures.latency.gateway, rank))]
    }),
    ['mean', seconds(mean(figures.latency.direct)), seconds(mean(figures.latency.gateway))],
  ]
  const rules = Object.entries(gateway.blocked).filter(([, count]) => count > 0)
  const limit = `limit ${figures.userLimit.limit} requests per user per ${figures.userLimit.windowMs / 1000} s`
  return [
    formatTable(summary, ['l', 'r', 'l']),
    `  pricing: ${prices} per 1M tokens (built-in price table, ${figures.pricesAsOf})\n`,
    '\n',
    formatTable(latency),
    `  without cache: all ${figures.latency.direct.length} requests sent straight to the fake upstream;\n`,
    `  with tollgate: the ${figures.latency.gateway.length} answered through the gateway. Time to the whole reply.\n`,
    '\n',
    formatTable([['429s by rule', rules.length ? '' : 'none'], ...rules.map(([rule, count]) => [rule, String(count), rule === 'user-requests' ? limit : ''])], ['l', 'r', 'l']),
  ].join('')
}

/** Nearest-rank quantile of `values` (undefined when there are none). */
function quantile(values: readonly number[], rank: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(rank * sorted.length) - 1))]
}

function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((sum, value) => sum + value, 0) / values.length
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : (ms / 1000).toFixed(3)
}
