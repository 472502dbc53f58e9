import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createRateLimiter, createStore, type Store } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisSentinel } from '../harness/redis-sentinel.js'
import { RedisServer } from '../harness/redis-server.js'
import { TcpProxy } from '../harness/tcp-proxy.js'

const writes = async (store: Store, key: string, value = 'x'): Promise<boolean> => {
  try {
    await store.set(key, value)
    return true
  } catch {
    return false
  }
}

describe('failover: the store follows the primary', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  after(async () => {
    for (const step of cleanup.reverse()) await step()
  })

  it('reconnects when the node it is connected to is demoted to a replica (READONLY)', async () => {
    const [a, b] = await Promise.all([RedisServer.start(), RedisServer.start()])
    const endpoint = await TcpProxy.start(a.port)
    const store = createStore({ url: `redis://127.0.0.1:${endpoint.port}`, commandTimeout: 2_000, reconnectMaxDelay: '200ms' })
    cleanup.push(() => a.stop(), () => b.stop(), () => endpoint.close(), () => store.close())
    await store.set('before', '1')

    // What a managed endpoint does in a failover: B is promoted, A becomes its replica, and new
    // connections to the endpoint reach B. The store's open connection still goes to A.
    endpoint.target = b.port
    await a.cli('REPLICAOF', '127.0.0.1', String(b.port))
    await waitFor('A to refuse writes', async () => (await a.cli('SET', 'probe', '1')).startsWith('READONLY'))

    const first = await store.set('during', '1').then(
      () => undefined,
      (err: { code?: string; cause?: Error }) => err,
    )
    assert.equal(first?.code, 'E_STORE_UNAVAILABLE', 'READONLY is a store failure, not a bad command')
    assert.match(String(first?.cause?.message), /^READONLY/)
    await waitFor('a write to reach the new primary', () => writes(store, 'after'))
    assert.equal(await b.cli('GET', 'after'), 'x')
  })

  const failovers: Array<[string, (sentinel: RedisSentinel) => Promise<unknown>]> = [
    ['the primary killed (kill -9)', (sentinel) => sentinel.servers[0]!.kill9()],
    // The old primary lives on and is turned into a replica: its READONLY is what moves the client.
    ['a failover asked of Sentinel (the old primary demoted)', (sentinel) => sentinel.cli('SENTINEL', 'FAILOVER', 'mymaster')],
  ]
  for (const [name, failover] of failovers) {
    it(`follows a Sentinel failover under load, ${name}: decisions stay answered, then go back to the store`, async () => {
      const sentinel = await RedisSentinel.start({ replicas: 1, sentinels: 3 })
      const store = createStore({ url: sentinel.url, commandTimeout: 500, reconnectMaxDelay: '200ms' })
      const limiter = createRateLimiter({ store, rules: [{ name: 'rps', limit: 1_000_000, window: '1m' }], circuitBreaker: { probeInterval: '200ms' }, logger: false })
      cleanup.push(() => sentinel.stop(), () => store.close(), () => limiter.close())
      const oldMaster = await sentinel.masterPort()
      await limiter.consume('warm')

      const counts = { store: 0, fallback: 0, rejected: 0 }
      let running = true
      let lastFallback = 0
      const client = async (id: number) => {
        while (running) {
          try {
            const decision = await limiter.consume(`user-${id % 8}`)
            counts[decision.source]++
            if (decision.source === 'fallback') lastFallback = Date.now()
          } catch {
            counts.rejected++
          }
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
      const load = Promise.all(Array.from({ length: 16 }, (_, id) => client(id)))
      let killedAt = 0
      let promotedAt = 0
      let followedAt = 0
      try {
        await waitFor('load on the store', async () => counts.store > 200)

        killedAt = Date.now()
        await failover(sentinel)
        await waitFor('Sentinel to promote the replica', async () => (await sentinel.masterPort()) !== oldMaster, 30_000)
        promotedAt = Date.now()
        const masterPort = await sentinel.masterPort()
        const newMaster = sentinel.servers.find((server) => server.port === masterPort)!
        // Until the old primary is demoted it still takes writes (Sentinel's own window, lost with it);
        // the store must end up writing to the new one.
        let n = 0
        await waitFor('the store to write to the new primary', async () => {
          const value = String(++n)
          return (await writes(store, 'after-failover', value)) && (await newMaster.cli('GET', 'after-failover')) === value
        }, 30_000)
        followedAt = Date.now()
        const storeBefore = counts.store
        await waitFor('decisions back on the store', async () => counts.store > storeBefore + 200, 30_000)
      } finally {
        running = false
        await load
      }

      assert.equal(counts.rejected, 0, 'consume() never rejects with the fallback policy')
      const detail = `failover (${name}): promoted after ${promotedAt - killedAt} ms, writing to the new primary ${followedAt - promotedAt} ms later, last fallback decision ${Math.max(0, lastFallback - promotedAt)} ms after the promotion; decisions: ${counts.store} store, ${counts.fallback} fallback, 0 rejected`
      console.log(`# ${detail}`)
    })
  }
})
