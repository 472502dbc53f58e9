import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Cache, createCache, createRateLimiter, createStore, type RateLimiter, type Store } from '../../src/index.js'
import { run, waitFor } from '../harness/processes.js'
import { RedisCluster } from '../harness/redis-cluster.js'

/** Slots moved per resharding, away and back: most of one master's (all of them would make it a replica). */
const SLOTS = Number(process.env.RESHARD_SLOTS ?? 4000)

/**
 * Slots move between masters (`redis-cli --cluster reshard`) while the limiter and the cache work on
 * them: MOVED and ASK are followed, and no decision or cache call fails or leaves the store.
 */
describe('Redis Cluster resharding under load', () => {
  let cluster: RedisCluster
  let store: Store
  let limiter: RateLimiter
  let cache: Cache
  before(async () => {
    cluster = await RedisCluster.start()
    store = createStore({ url: cluster.url, commandTimeout: '2s' })
    limiter = createRateLimiter({ store, rules: [{ name: 'rps', limit: 1_000_000, window: '1h' }], logger: false })
    cache = createCache({ store, l1: false })
  })
  after(async () => {
    await limiter?.close()
    await cache?.close()
    await store?.close()
    await cluster?.stop()
  })

  it(`${SLOTS} slots moved away and back while 16 clients decide and cache: no fallback, no error, counts exact`, async () => {
    const [from, to] = await Promise.all(cluster.nodes.slice(0, 2).map(async (node) => (await node.cli('CLUSTER', 'MYID')).trim()))
    const counts = { store: 0, fallback: 0, rejected: 0, cacheErrors: 0 }
    cache.events.on('error', () => counts.cacheErrors++)
    let running = true
    let n = 0
    const client = async () => {
      while (running) {
        const i = n++
        try {
          const decision = await limiter.consume(`user-${i % 500}`)
          counts[decision.source]++
          await cache.getOrSet(`k${i % 1000}`, () => ({ i }))
        } catch {
          counts.rejected++
        }
        // Answers from the fallback resolve without I/O: without a turn of the event loop the load
        // would starve the timers that end it.
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    const load = Promise.all(Array.from({ length: 16 }, client))
    const entry = `127.0.0.1:${cluster.nodes[0]!.port}`
    // redis-cli refuses to reshard until every node agrees on the slot map of the last one.
    const agreed = () => waitFor('the nodes to agree on the slots', async () => (await run('redis-cli', ['--cluster', 'check', entry]).catch(() => '')).includes('[OK] All 16384 slots covered'), 30_000)
    const reshard = async (a: string | undefined, b: string | undefined) => {
      await agreed()
      await run('redis-cli', ['--cluster', 'reshard', entry, '--cluster-from', String(a), '--cluster-to', String(b), '--cluster-slots', String(SLOTS), '--cluster-yes'], 300_000).catch((err: Error & { stdout?: string }) => {
        throw new Error(`resharding failed: ${String(err.stdout).split('\n').slice(-5).join(' | ')}`)
      })
    }
    try {
      await waitFor('load on the cluster', async () => counts.store > 500)
      await reshard(from, to)
      await reshard(to, from)
      const before = counts.store
      await waitFor('load after the resharding', async () => counts.store > before + 500)
    } finally {
      running = false
      await load
    }

    assert.deepEqual({ fallback: counts.fallback, rejected: counts.rejected, cacheErrors: counts.cacheErrors }, { fallback: 0, rejected: 0, cacheErrors: 0 })
    // Every decision counted once, wherever its slot was at the moment.
    let counted = 0
    for (let id = 0; id < 500; id++) {
      const decision = await limiter.peek(`user-${id}`)
      counted += decision.limit - decision.remaining
    }
    assert.equal(counted, counts.store)
    console.log(`# cluster resharding: ${SLOTS} slots moved away and back under load; ${counts.store} decisions, all on the store, 0 errors`)
  })
})
