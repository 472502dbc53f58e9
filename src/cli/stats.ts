import { parseArgs } from 'node:util'
import type { AdminStats, MoneyLine, Quantiles, StoreHealth } from '../gateway/admin/admin-stats.js'
import { ADMIN_TOKEN_ENV, adminRequest, adminToken, DEFAULT_GATEWAY_URL, gatewayUrl } from './admin-client.js'
import { CliError } from './cli-error.js'
import { formatTable, percent, usd } from './table.js'

export const STATS_HELP = `Usage: tollgate stats [--url ${DEFAULT_GATEWAY_URL}] [--json]

Prints a running gateway's figures as tables: requests by cache status and HTTP status, hit ratios,
upstream calls made and avoided, latency, USD spent and saved (top tenants and models), requests
the limits refused (and by rule), and the health of the store and of the limits' own store. Counts
are since the gateway started; latency quantiles cover the last 60 s. The admin token is read from
${ADMIN_TOKEN_ENV} (never an argument: arguments show in process listings). Exit 1 when the gateway
cannot be reached or refuses the token, 2 on a usage error.

Options:
  --url URL      the gateway's root URL (default ${DEFAULT_GATEWAY_URL}; a trailing /v1 is dropped)
  --json         print GET /admin/stats as it came, for scripts
  -h, --help     show this help
`

/** `tollgate stats ...`; returns the exit code. */
export async function stats(args: string[], env: NodeJS.ProcessEnv, out: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { url: { type: 'string' }, json: { type: 'boolean' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  if (values.help) {
    out(STATS_HELP)
    return 0
  }
  if (values.token !== undefined) throw new CliError(`the admin token is read from ${ADMIN_TOKEN_ENV}, never from an argument (arguments show in process listings)`, 2)
  if (positionals.length > 0) throw new CliError(`stats takes no arguments, got "${positionals.join(' ')}" (tollgate stats --help)`, 2)
  const url = gatewayUrl(values.url)
  const answer = await adminRequest<AdminStats>(url, adminToken(env), 'GET', '/admin/stats')
  out(values.json ? `${JSON.stringify(answer, null, 2)}\n` : formatStats(answer, url))
  return 0
}

/** The stats as the tables `tollgate stats` prints. */
export function formatStats(s: AdminStats, url: string): string {
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ') || 'none'
  const { cache, upstream, money, limits } = s
  return [
    `tollgate ${s.version} at ${url}, up ${duration(s.uptimeSeconds)} (since ${s.startedAt})\n\n`,
    formatTable(
      [
        ['requests', String(s.requests.total), counts(s.requests.byCache)],
        ['by status', '', counts(s.requests.byStatus)],
        ['hit ratio', percent(cache.hitRatio), `of LLM requests; lookups hit L1 ${percent(cache.tierHitRatio.l1)}, L2 ${percent(cache.tierHitRatio.l2)}`],
        ['cache', '', `hits L1 ${cache.hits.l1}, L2 ${cache.hits.l2}; misses ${cache.misses}, stale ${cache.stale}, coalesced ${cache.coalesced}, loader errors ${cache.loaderErrors}`],
        ['L1', '', `${cache.l1.entries} entries, ${bytes(cache.l1.bytes)}; circuit ${cache.circuit}, bus ${cache.bus}`],
        ['upstream calls made', String(upstream.calls), `retries ${upstream.retries}; errors: ${counts(upstream.errors)}`],
        ['upstream calls avoided', String(upstream.callsAvoided), ''],
        ['USD spent', usd(money.spentUsd), `${money.promptTokens} prompt + ${money.completionTokens} completion tokens`],
        ['USD saved', usd(money.savedUsd), ''],
        ['limits allowed', String(limits.allowed), ''],
        ['limits refused', String(limits.refused), `by rule: ${counts(limits.blocked)}`],
        ['limits fallback', limits.onFallback ? 'ON' : 'off', `${limits.fallbackDecisions} decisions, ${limits.fallbackSwitches} switches`],
        ...storeRows('', s.store),
        ...(s.limitsStore ? storeRows('limits ', s.limitsStore) : []),
      ],
      ['l', 'r', 'l'],
    ),
    '\n',
    formatTable([['latency, last 60 s (s)', 'p50', 'p95', 'p99'], quantileRow('upstream call', upstream.latency), quantileRow('time to first token', upstream.timeToFirstToken), quantileRow('gateway overhead', s.overhead)]),
    ...(['tenants', 'models'] as const).flatMap((kind) => {
      const lines = kind === 'tenants' ? money.topTenants : money.topModels
      return lines.length === 0 ? [] : ['\n', moneyTable(`top ${kind}`, lines)]
    }),
  ].join('')
}

function moneyTable(title: string, lines: readonly MoneyLine[]): string {
  return formatTable([[title, 'spent', 'saved', 'upstream calls', 'cache hits'], ...lines.map((line) => [line.name, usd(line.spentUsd), usd(line.savedUsd), String(line.upstreamCalls), String(line.cacheHits)])])
}

function quantileRow(name: string, q: Quantiles): string[] {
  const cell = (value: number | null) => (value === null ? '-' : value.toFixed(3))
  return [name, cell(q.p50), cell(q.p95), cell(q.p99)]
}

/** A store's status line, and on Redis the figures of its INFO; `whose` prefixes the labels. */
function storeRows(whose: string, store: StoreHealth): string[][] {
  const { redis } = store
  return [
    [`${whose}store`, store.status, `${store.kind} ${store.name}${store.detail ? `: ${store.detail}` : ''}`],
    ...(redis
      ? [[`${whose}redis`, '', `${bytes(redis.usedMemoryBytes)} used, ${redis.keys} keys, ${redis.connectedClients} clients, maxmemory-policy ${redis.maxmemoryPolicy}, keyspace hits ${redis.keyspaceHitRatio === null ? '-' : percent(redis.keyspaceHitRatio)}`]]
      : []),
  ]
}

/** `3725` as `1h 2m 5s`. */
function duration(totalSeconds: number): string {
  const s = Math.floor(totalSeconds)
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)]
  return `${h ? `${h}h ` : ''}${h || m ? `${m}m ` : ''}${s % 60}s`
}

function bytes(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`
}
