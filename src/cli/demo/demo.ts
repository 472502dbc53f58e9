import { randomBytes } from 'node:crypto'
import { constants } from 'node:os'
import { parseArgs } from 'node:util'
import { type GatewayConfig, parseConfig } from '../../gateway/config.js'
import type { AdminStats } from '../../gateway/admin/admin-stats.js'
import { createGateway, type Gateway } from '../../gateway/server.js'
import { PRICES_AS_OF } from '../../llm/price-table.js'
import { DEFAULT_PRICES } from '../../llm/pricing.js'
import { adminRequest } from '../admin-client.js'
import { CliError } from '../cli-error.js'
import { send, type Sent } from './client.js'
import { type DemoUpstream, startDemoUpstream } from './fake-upstream.js'
import { createProgress } from './progress.js'
import { formatReport } from './report.js'
import { runSteps } from './runner.js'
import { buildWorkload, DEMO_MODELS, type Workload } from './workload.js'

export const DEMO_HELP = `Usage: tollgate demo [--exit] [--port 8080]

Shows what the cache and the limits save, fully offline: no network, no API key. It starts a fake
OpenAI-compatible upstream on 127.0.0.1 (600-2,000 ms a call, streaming or not), a gateway on the
embedded default (memory store) in front of it, and replays a built-in agent-team workload (about
150 requests, 16 at a time, ~45 % repeats, concurrent duplicates, two senders over a per-user limit)
through the gateway and, for comparison, straight to the fake upstream. Then it prints requests,
upstream calls made and avoided, hit ratio, USD spent and saved (built-in prices), latency with and
without the cache, and 429s by rule. The gateway stays up with the dashboard until Ctrl-C. Ctrl-C
(or SIGTERM) before the table stops everything and exits 130 (143).

Options:
  --exit         stop the gateway and the fake upstream once the table is printed
  --port N       the gateway's port (default 8080, taking a free one if 8080 is in use; 0: any free one)
  -h, --help     show this help
`

/** Fixes the workload and the fake upstream's latencies: every run prints comparable figures. */
const SEED = 12
/** Requests in flight at once, in each pass. */
const CONCURRENCY = 16
const DEFAULT_PORT = 8080
/** The key the gateway calls the fake upstream with, and the one the direct pass uses: the fake counts them apart. */
const GATEWAY_UPSTREAM_KEY = 'sk-demo-gateway'
const DIRECT_KEY = 'sk-demo-direct'
const PASSES = { gateway: 'through tollgate', direct: 'straight to upstream' } as const

/** `tollgate demo ...`; returns the exit code once the demo is over (with `--exit`, or after SIGINT/SIGTERM). */
export async function demo(args: string[], out: (text: string) => void, terminal: NodeJS.WriteStream): Promise<number> {
  const { values } = parseArgs({ args, options: { exit: { type: 'boolean' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true })
  if (values.help) {
    out(DEMO_HELP)
    return 0
  }
  if (values.port !== undefined && (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535)) throw new CliError(`--port: expected a port number, got "${values.port}"`, 2)
  const workload = buildWorkload(SEED)
  const token = randomBytes(24).toString('base64url')
  const upstream = await startDemoUpstream({ seed: SEED })
  const interrupted = onSignal()
  let gateway: Gateway | undefined
  try {
    const started = await listen(upstream.url, values.port === undefined ? undefined : Number(values.port), token, workload)
    gateway = started.gateway
    out(intro(upstream, started, workload))
    const passes = await replay(workload, `${started.url}/v1`, upstream, out, terminal, interrupted.signal)
    if (interrupted.signal.aborted) {
      const signal = interrupted.signal.reason as NodeJS.Signals
      out(`${signal}: stopped before the workload was done; stopping the gateway and the fake upstream.\n`)
      return 128 + constants.signals[signal]
    }
    await gateway.limitsSettled()
    const stats = await adminRequest<AdminStats>(started.url, token, 'GET', '/admin/stats')
    out(`\n${report(workload, passes, stats, upstream)}\n`)
    if (values.exit) {
      out('Stopped the gateway and the fake upstream (--exit).\n')
      return 0
    }
    out(outro(started.url, token))
    const signal = await interrupted.next
    out(`${signal}: stopping the gateway and the fake upstream.\n`)
    return 0
  } finally {
    interrupted.dispose()
    await Promise.all([gateway?.close(), upstream.close()])
  }
}

/**
 * SIGINT and SIGTERM from now until `dispose()`: the first one aborts `signal` (its reason: the
 * signal's name) and resolves `next`. Listening from the start matters: Node's default on a signal
 * is to die at once, which would leave the progress bars' hidden cursor hidden.
 */
function onSignal(): { signal: AbortSignal; next: Promise<NodeJS.Signals>; dispose(): void } {
  const controller = new AbortController()
  const next = new Promise<NodeJS.Signals>((resolve) => controller.signal.addEventListener('abort', () => resolve(controller.signal.reason as NodeJS.Signals), { once: true }))
  const dispose = () => {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
  const stop = (signal: NodeJS.Signals) => {
    dispose()
    controller.abort(signal)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  return { signal: controller.signal, next, dispose }
}

/**
 * The demo's gateway: the embedded default (memory store, `auth: none`, one upstream: here the fake),
 * with a per-user request limit for the workload's heavy senders to hit and an admin token for the
 * stats and the dashboard. On the default port, a port in use means another free one; a port asked for is kept or fails.
 */
async function listen(upstreamUrl: string, port: number | undefined, token: string, workload: Workload): Promise<{ gateway: Gateway; url: string; note?: string }> {
  const config = (listenPort: number): GatewayConfig =>
    parseConfig(
      {
        server: { port: listenPort, logLevel: 'silent', shutdownTimeout: 2_000 },
        upstreams: [{ name: 'fake-openai', baseUrl: upstreamUrl, apiKey: GATEWAY_UPSTREAM_KEY, models: [...DEMO_MODELS] }],
        limits: { user: { requests: { limit: workload.userLimit.limit, window: workload.userLimit.windowMs } } },
        admin: { token },
      },
      {},
    )
  const first = createGateway(config(port ?? DEFAULT_PORT))
  try {
    return { gateway: first, url: await first.listen() }
  } catch (err) {
    await first.close()
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err
    if (port !== undefined) throw new CliError(`port ${port} is in use (--port 0 takes any free one)`)
  }
  const other = createGateway(config(0))
  const url = await other.listen()
  return { gateway: other, url, note: `port ${DEFAULT_PORT} is in use: the gateway took ${new URL(url).port} instead` }
}

function intro(upstream: DemoUpstream, gateway: { url: string; note?: string }, workload: Workload): string {
  const { limit, windowMs } = workload.userLimit
  return [
    'tollgate demo: offline, nothing leaves this machine\n',
    `  fake upstream  ${upstream.url}  (OpenAI-compatible, 600-2,000 ms a call, seed ${SEED})\n`,
    `  gateway        ${gateway.url}  (embedded default: memory store; per-user limit ${limit} requests per ${windowMs / 1000} s)\n`,
    gateway.note ? `                 ${gateway.note}\n` : '',
    `  workload       ${workload.requests} requests from ${workload.users.length} senders, ${CONCURRENCY} at a time; ${Math.round((workload.repeats / workload.requests) * 100)} % repeat an earlier request, ${workload.bursts} times 3 identical requests at once\n`,
    `Sending them ${PASSES.gateway} and, to compare, ${PASSES.direct} (both at once)...\n`,
  ].join('')
}

/**
 * Both passes at once (they only wait on the fake upstream), so the demo takes as long as the slower
 * one. An interruption stops the bars (they hide the cursor) and abandons the requests in flight.
 */
async function replay(workload: Workload, gatewayUrl: string, upstream: DemoUpstream, out: (text: string) => void, terminal: NodeJS.WriteStream, signal: AbortSignal): Promise<{ gateway: Sent[]; direct: Sent[] }> {
  const progress = createProgress(
    Object.values(PASSES).map((name) => ({ name, total: workload.requests })),
    terminal,
    (line) => out(`  ${line}\n`),
  )
  signal.addEventListener('abort', () => progress.stop(), { once: true })
  const started = performance.now()
  const pass = async (name: string, baseUrl: string, key: string) => {
    const results = await runSteps(workload.steps, CONCURRENCY, (request) => send(baseUrl, key, request, signal), () => progress.advance(name), signal)
    if (!signal.aborted) progress.finish(name, (performance.now() - started) / 1000)
    return results
  }
  try {
    const [gateway, direct] = await Promise.all([pass(PASSES.gateway, gatewayUrl, 'demo-client'), pass(PASSES.direct, upstream.url, DIRECT_KEY)])
    return { gateway, direct }
  } finally {
    progress.stop()
  }
}

function report(workload: Workload, passes: { gateway: Sent[]; direct: Sent[] }, stats: AdminStats, upstream: DemoUpstream): string {
  const answered = passes.gateway.filter((sent) => sent.status === 200 && !sent.error)
  const refused = passes.gateway.filter((sent) => sent.status === 429)
  const failed = passes.gateway.filter((sent) => !answered.includes(sent) && sent.status !== 429)
  return formatReport({
    requests: passes.gateway.length,
    answered: answered.length,
    refused: refused.length,
    failed: failed.length,
    firstFailure: failed[0] && `${failed[0].status || 'no reply'} ${failed[0].error ?? ''}`,
    gateway: {
      upstreamCalls: stats.upstream.calls,
      callsAvoided: stats.upstream.callsAvoided,
      hitRatio: stats.cache.hitRatio,
      spentUsd: stats.money.spentUsd,
      savedUsd: stats.money.savedUsd,
      blocked: stats.limits.blocked,
    },
    upstreamCounted: upstream.calls(GATEWAY_UPSTREAM_KEY),
    pricing: DEMO_MODELS.flatMap((model) => {
      const price = DEFAULT_PRICES.get(model)
      return price ? [{ model, price }] : []
    }),
    pricesAsOf: PRICES_AS_OF,
    userLimit: workload.userLimit,
    latency: { direct: passes.direct.filter((sent) => sent.status === 200).map((sent) => sent.ms), gateway: answered.map((sent) => sent.ms) },
  })
}

function outro(url: string, token: string): string {
  return [
    `Dashboard: ${url}/dashboard   (admin token: ${token})\n`,
    `The gateway keeps running in front of the fake upstream; Ctrl-C stops both. Try:\n`,
    `  curl -s ${url}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"Say hi"}]}'\n`,
    `  TOLLGATE_ADMIN_TOKEN=${token} tollgate stats --url ${url}\n`,
  ].join('')
}
