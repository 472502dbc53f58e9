import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { CliGateway } from '../harness/cli-gateway.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'
import { Load, percentile } from './load.js'

/** How long each fault lasts under load: short in `npm test`, 30 s in `npm run test:faults`. */
const FAULT_MS = Number(process.env.FAULT_SECONDS ?? 1.5) * 1000
const KEY = 'sk-fault-key'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Context {
  redis: RedisServer
  load: Load
}

interface Fault {
  name: string
  /** The store URL the gateway is given (default the server's). */
  url?: (redis: RedisServer) => string
  setup?: (redis: RedisServer) => Promise<unknown>
  inject: (ctx: Context) => Promise<unknown>
  recover: (ctx: Context) => Promise<unknown>
  /** The limiter must move to its fallback during the fault, and back after it. */
  fallback: boolean
  /** 5xx the fault may cause (from the upstream, named in the body): none for a store fault. */
  upstreamErrors?: boolean
}

const ONLY = process.env.FAULT_ONLY
const FAULTS: Fault[] = [
  { name: 'kill -9 and restart', inject: ({ redis }) => redis.kill9(), recover: ({ redis }) => redis.restart(), fallback: true },
  { name: 'SIGSTOP', inject: async ({ redis }) => redis.pause(), recover: async ({ redis }) => redis.resume(), fallback: true },
  {
    name: 'OOM with noeviction',
    inject: ({ redis }) => redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction').then(() => redis.cli('CONFIG', 'SET', 'maxmemory', '1')),
    recover: ({ redis }) => redis.cli('CONFIG', 'SET', 'maxmemory', '0'),
    fallback: true,
  },
  {
    name: 'MISCONF (a failed snapshot stops writes)',
    inject: async ({ redis }) => {
      await redis.cli('CONFIG', 'SET', 'save', '3600 1')
      // The snapshot's directory goes away under the server: its next BGSAVE fails.
      rmSync(redis.dir, { recursive: true, force: true })
      await redis.cli('BGSAVE')
      await waitFor('the snapshot to fail', async () => (await redis.cli('INFO', 'persistence')).includes('rdb_last_bgsave_status:err'))
    },
    recover: ({ redis }) => redis.cli('CONFIG', 'SET', 'save', ''),
    fallback: true,
  },
  {
    name: 'ACL change (NOPERM)',
    url: (redis) => `redis://tollgate:secret@127.0.0.1:${redis.port}`,
    setup: (redis) => redis.cli('ACL', 'SETUSER', 'tollgate', 'on', '>secret', '~*', '&*', '+@all'),
    inject: ({ redis }) => redis.cli('ACL', 'SETUSER', 'tollgate', '-@all'),
    recover: ({ redis }) => redis.cli('ACL', 'SETUSER', 'tollgate', '+@all'),
    fallback: true,
  },
  {
    name: 'READONLY (the node demoted to a replica)',
    // A replica of a primary that is not there stays read-only: every write is refused.
    inject: ({ redis }) => redis.cli('REPLICAOF', '127.0.0.1', '1'),
    recover: ({ redis }) => redis.cli('REPLICAOF', 'NO', 'ONE'),
    fallback: true,
  },
  {
    name: 'subscriber connection killed (CLIENT KILL TYPE pubsub)',
    inject: ({ redis }) => redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub'),
    recover: async () => {},
    fallback: false,
  },
  {
    name: 'upstream slow',
    inject: async ({ load }) => (load.marker = '[slow:300]'),
    recover: async ({ load }) => (load.marker = ''),
    fallback: false,
  },
  {
    name: 'upstream failing (503)',
    inject: async ({ load }) => (load.marker = '[fail:503]'),
    recover: async ({ load }) => (load.marker = ''),
    fallback: false,
    upstreamErrors: true,
  },
]

describe(`fault matrix under load (${FAULT_MS / 1000} s per fault)`, () => {
  let upstream: FakeUpstream
  const report: string[] = []
  after(async () => {
    await upstream?.close()
    for (const line of report) console.log(`# ${line}`)
  })

  for (const fault of FAULTS.filter((f) => !ONLY || f.name.includes(ONLY))) {
    it(`${fault.name}: no crash, no hang, no store-caused 5xx${fault.fallback ? ', fallback and back' : ''}`, async () => {
      upstream ??= await startFakeUpstream()
      const redis = await RedisServer.start()
      let gateway: CliGateway | undefined
      let load: Load | undefined
      try {
        await fault.setup?.(redis)
        gateway = await CliGateway.start({
          store: { url: fault.url?.(redis) ?? redis.url },
          upstreams: [{ name: 'fake', baseUrl: upstream.url, apiKey: 'upstream-secret', maxRetries: 0 }],
          keys: [{ name: 'faults', tenant: 'acme', hash: hashKey(KEY) }],
          limits: { requests: { limit: 1_000_000_000, window: '1m' } },
        })
        load = new Load(gateway.url, KEY)
        load.start()
        const l = load
        await waitFor('load on the gateway', async () => l.ok('before') >= 30, 30_000)

        const injectedAt = Date.now()
        load.phase = 'fault'
        await fault.inject({ redis, load })
        await sleep(FAULT_MS)
        // Taken before the recovery command: the gateway may see the store back before redis-cli returns.
        const recoveredAt = Date.now()
        await fault.recover({ redis, load })
        load.phase = 'after'
        const g = gateway
        const logged = (text: string, since: number) => g.lines.find((line) => line.at >= since && line.msg.includes(text))
        if (fault.fallback) {
          await waitFor('the limiter to answer from the store again', async () => logged('back to shared limits', recoveredAt) !== undefined, 30_000).catch((err: Error) => {
            throw new Error(`${err.message}; the gateway logged: ${g.lines.filter((line) => !line.msg.includes('request')).map((line) => `${line.at - recoveredAt} ms: ${line.msg}`).join(' | ')}`)
          })
        }
        await waitFor('answers after the fault', async () => l.ok('after') >= 30, 30_000)
        await load.stop()

        if (process.env.FAULT_DEBUG) console.error(g.lines.filter((line) => !line.msg.includes('request')).map((line) => `${line.at - recoveredAt} ${line.level} ${line.msg}`).join('\n'))
        assert.ok(gateway.alive, 'the gateway process is still running')
        const all = load.outcomes
        assert.deepEqual(all.filter((o) => o.status === 0), [], 'every request was answered (no hang, no reset)')
        const fiveHundreds = all.filter((o) => o.status >= 500)
        if (fault.upstreamErrors) {
          for (const o of fiveHundreds) {
            assert.equal(o.status, 503, 'the upstream’s own status')
            assert.match(o.body ?? '', /"error"/, 'an OpenAI-shaped body')
          }
          assert.equal(all.filter((o) => o.phase !== 'fault' && o.status >= 500).length, 0, 'only while the upstream failed')
        } else {
          assert.deepEqual(fiveHundreds, [], 'no 5xx')
        }
        const switched = logged('failed', injectedAt)
        if (fault.fallback) assert.ok(switched, 'the switch to the fallback is logged')
        // One line per switch: the lines alternate. A noisy machine may see one more switch after the
        // recovery (a command timing out under the reconnect's burst), which is a real switch, logged once.
        const switchLines = gateway.lines.filter((line) => line.msg.includes('failed (') || line.msg.includes('back to shared limits'))
        switchLines.forEach((line, i) => assert.equal(line.msg.includes('failed ('), i % 2 === 0, `one line per switch, each way: ${switchLines.map((l) => `${l.at - injectedAt} ms: ${l.msg}`).join(' | ')}`))
        const back = logged('back to shared limits', recoveredAt)
        const during = load.of('fault').map((o) => o.ms)
        report.push(
          `${fault.name}: ${all.length} requests, ${during.length} during the fault, p99 during ${percentile(during, 99).toFixed(0)} ms (before ${percentile(load.of('before').map((o) => o.ms), 99).toFixed(0)} ms); ` +
            `5xx ${fiveHundreds.length}` +
            (fault.fallback ? `; fallback ${switched ? `${switched.at - injectedAt} ms` : 'never'} after the fault, back on Redis ${back ? `${back.at - recoveredAt} ms` : 'never'} after recovery` : ''),
        )
      } finally {
        await load?.stop()
        await gateway?.stop()
        redis.resume()
        await redis.stop()
      }
    })
  }
})
