// npm run bench:bodies — how long /healthz waits while clients send large request bodies. The gateway
// and the fake upstream run in processes of their own (memory store, cache on); 0, 2, 4 and 8 clients each post bodies just
// under the 4 MiB body limit, one after the other, every one different (no cache hits), while this
// process asks /healthz every 20 ms on its own connection. Writes its table to docs/benchmarks.md.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { Worker } from '../test/harness/worker.js'
import { machine, writeSection } from './lib/report.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6)
const BODY_BYTES = 4 * 1024 * 1024 - 64 * 1024
const SENDERS = [0, 2, 4, 8]

interface Row {
  senders: number
  bodiesPerSec: number
  mbPerSec: number
  p50: number
  p99: number
  max: number
}

/** A chat body of about BODY_BYTES: the bulk in a system message, so the fake upstream echoes only the short question. */
function body(i: number): string {
  const bulk = `document ${i}: ${'lorem ipsum dolor sit amet '.repeat(Math.floor(BODY_BYTES / 27))}`
  return JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: bulk }, { role: 'user', content: `summarise document ${i}` }] })
}

async function run(url: string, senders: number, offset: number): Promise<Row> {
  const probe = new Pool(url, { connections: 1 })
  const load = new Pool(url, { connections: Math.max(1, senders) })
  const deadline = performance.now() + SECONDS * 1000
  let sent = 0
  let bytes = 0
  const sender = async (id: number) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const text = body(offset + id * 100_000 + i)
      const response = await load.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: text })
      await response.body.text()
      if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`)
      sent++
      bytes += text.length
    }
  }
  const times: number[] = []
  const prober = async () => {
    while (performance.now() < deadline) {
      const started = performance.now()
      const response = await probe.request({ path: '/healthz', method: 'GET' })
      await response.body.text()
      times.push(performance.now() - started)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  await Promise.all([prober(), ...Array.from({ length: senders }, (_, id) => sender(id))])
  await Promise.all([probe.close(), load.close()])
  times.sort((a, b) => a - b)
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))] as number
  return { senders, bodiesPerSec: sent / SECONDS, mbPerSec: bytes / SECONDS / 2 ** 20, p50: at(0.5), p99: at(0.99), max: times.at(-1) as number }
}

const upstream = spawn(process.execPath, [fileURLToPath(new URL('./fake-upstream-server.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] })
const upstreamUrl = (await createInterface({ input: upstream.stdout })[Symbol.asyncIterator]().next()).value as string
const gateway = await Worker.start('gateway-worker.js', [upstreamUrl, 'memory://'])
try {
  const url = (gateway.first as { url: string }).url
  const rows: Row[] = []
  for (const [i, senders] of SENDERS.entries()) {
    rows.push(await run(url, senders, i * 1_000_000))
    console.log(rows.at(-1))
  }
  const table = [
    '| clients posting 4 MiB bodies | bodies/s | MiB/s | /healthz p50 ms | p99 ms | max ms |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.senders} | ${r.bodiesPerSec.toFixed(1)} | ${r.mbPerSec.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} |`),
  ].join('\n')
  writeSection('large-bodies', `## Large request bodies and everyone else\n\n${machine()}; ${SECONDS} s per row; \`npm run bench:bodies\`.\n\n${table}`)
} finally {
  await gateway.stop()
  upstream.kill()
}
