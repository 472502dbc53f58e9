import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { CliGateway } from '../harness/cli-gateway.js'
import { waitFor } from '../harness/processes.js'
import { RedisSentinel } from '../harness/redis-sentinel.js'
import { Load, percentile } from './load.js'

const KEY = 'sk-sentinel-key'

/**
 * A gateway on a Sentinel-managed primary with a replica and three sentinels; the primary is killed
 * under load. The gateway follows the promoted replica; until then decisions come from the fallback.
 */
describe('Sentinel failover under load, through the gateway', () => {
  let upstream: FakeUpstream | undefined
  let sentinel: RedisSentinel | undefined
  let gateway: CliGateway | undefined
  after(async () => {
    await gateway?.stop()
    await Promise.all([sentinel?.stop(), upstream?.close()])
  })

  it('the primary killed: no 5xx, no hang, decisions back on the store after the promotion', async () => {
    ;[upstream, sentinel] = await Promise.all([startFakeUpstream(), RedisSentinel.start({ replicas: 1, sentinels: 3 })])
    gateway = await CliGateway.start({
      store: { url: sentinel.url },
      upstreams: [{ name: 'fake', baseUrl: upstream.url, apiKey: 'upstream-secret' }],
      keys: [{ name: 'team', tenant: 'acme', hash: hashKey(KEY) }],
      limits: { requests: { limit: 1_000_000_000, window: '1m' } },
    })
    const load = new Load(gateway.url, KEY)
    load.start()
    const g = gateway
    const s = sentinel
    const oldMaster = await s.masterPort()
    let killedAt = 0
    let promotedAt = 0
    try {
      await waitFor('load on the gateway', async () => load.ok('before') >= 30, 30_000)
      load.phase = 'failover'
      killedAt = Date.now()
      await s.servers[0]!.kill9()
      await waitFor('Sentinel to promote the replica', async () => (await s.masterPort()) !== oldMaster, 30_000)
      promotedAt = Date.now()
      await waitFor('the limiter back on the store', async () => g.lines.some((line) => line.at >= killedAt && line.msg.includes('back to shared limits')), 30_000).catch((err: Error) => {
        throw new Error(`${err.message}; the gateway logged: ${g.lines.filter((line) => line.at >= killedAt && !line.msg.includes('request')).map((line) => `${line.at - killedAt} ms: ${line.msg}`).join(' | ')}`)
      })
      load.phase = 'after'
      await waitFor('answers after the failover', async () => load.ok('after') >= 30, 30_000)
    } finally {
      await load.stop()
    }

    assert.ok(g.alive)
    assert.deepEqual(load.outcomes.filter((o) => o.status === 0 || o.status >= 500), [])
    const back = g.lines.find((line) => line.at >= killedAt && line.msg.includes('back to shared limits'))!
    const during = load.of('failover').map((o) => o.ms)
    console.log(
      `# sentinel failover through the gateway: ${load.outcomes.length} requests, ${during.length} during the failover, 0 failed; ` +
        `promoted ${promotedAt - killedAt} ms after the kill, back on the store ${back.at - promotedAt} ms after the promotion; p99 during ${percentile(during, 99).toFixed(0)} ms`,
    )
  })
})
