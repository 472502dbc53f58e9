// npm run bench:metrics — what the metrics cost a cache hit, measured in-process: the work a hit
// makes them do (the request's series, the cache's `hit` event, the producer's `saved` event) timed
// over a million hits, beside a whole hit's CPU time through HTTP. Throughput rows with metrics on
// and off (npm run bench:gateway) move by more than this between two runs on a shared 2-core
// machine; this isolates the part that metrics add. Writes its table to docs/benchmarks.md.
import { createGateway, parseConfig } from '../src/index.js'
import { machine, writeSection } from './lib/report.js'

const HITS = 1_000_000
const ROUNDS = 5

const gateway = createGateway(parseConfig({ server: { port: 0 }, upstreams: [{ name: 'fake', baseUrl: 'http://127.0.0.1:9/v1' }] }))
const metrics = gateway.metrics
if (!metrics) throw new Error('metrics are on by default')
const spent = { tenant: 'acme', model: 'gpt-4o-mini', usd: 0.00001, promptTokens: 12, completionTokens: 5 }

function hit(): void {
  metrics?.observeRequest('/v1/chat/completions', 200, 'HIT', 0.0004, 0)
  gateway.cache.events.emit('hit', { key: 'k', namespace: 't/acme', tier: 'l1' })
  gateway.producer.events.emit('saved', { ...spent })
}

function round(): number {
  const started = process.hrtime.bigint()
  for (let i = 0; i < HITS; i++) hit()
  return Number(process.hrtime.bigint() - started) / HITS
}

try {
  round()
  const ns = Array.from({ length: ROUNDS }, round).sort((a, b) => a - b)
  const median = ns[Math.floor(ROUNDS / 2)] as number
  const body = [
    '### Metrics on the hit path (`npm run bench:metrics`)',
    '',
    `${machine()}. The metrics' share of a cache hit: the request's series (count, time, overhead), the cache's \`hit\` event and the producer's \`saved\` event (money, tokens, calls avoided), ${HITS.toLocaleString('en-US')} times in a row, ${ROUNDS} rounds.`,
    '',
    '| | ns per hit |',
    '| --- | ---: |',
    `| median of ${ROUNDS} rounds | ${median.toFixed(0)} |`,
    `| fastest, slowest | ${ns[0]?.toFixed(0)}, ${ns[ROUNDS - 1]?.toFixed(0)} |`,
  ].join('\n')
  console.log(body)
  writeSection('bench:metrics', body)
} finally {
  await gateway.close()
}
