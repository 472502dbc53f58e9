import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Cache } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { Worker } from '../harness/worker.js'
import { CACHE_BACKENDS, useCacheBackend } from './backends.js'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts a getOrSet of 'k' on `cache` whose loader hangs until released; resolves once it runs. */
async function leaderThatHangs(cache: Cache): Promise<{ release: (value: string) => void; result: Promise<string> }> {
  let release: (value: string) => void = () => {}
  let loading = false
  const result = cache.getOrSet('k', () => {
    loading = true
    return new Promise<string>((resolve) => (release = resolve))
  })
  await waitFor('the leader to start loading', async () => loading)
  return { release: (value) => release(value), result }
}

for (const backend of CACHE_BACKENDS) {
  describe(`stampede protection: ${backend.name}`, () => {
    const env = useCacheBackend(backend)

    it('100 concurrent misses for one key run the loader once; all get its value', async () => {
      const cache = env.group().open()
      let calls = 0
      const results = await Promise.all(
        Array.from({ length: 100 }, () =>
          cache.getOrSetEntry('hot', async () => {
            calls++
            await delay(30)
            return { n: calls }
          }),
        ),
      )
      assert.equal(calls, 1)
      assert.ok(results.every((r) => (r.value as { n: number }).n === 1))
      assert.deepEqual(
        results.map((r) => r.status).sort(),
        ['miss', ...Array(99).fill('coalesced')].sort(),
      )
      assert.equal(cache.stats().coalesced, 99)
    })

    it('a loader failure reaches every waiter and is not cached: the next call loads again', async () => {
      const cache = env.group().open()
      let calls = 0
      const failing = async () => {
        calls++
        await delay(10)
        throw new Error('upstream down')
      }
      const settled = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrSet('k', failing)))
      assert.ok(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'upstream down'))
      assert.equal(calls, 1)
      assert.equal(await cache.getOrSet('k', () => 'recovered'), 'recovered')
      assert.equal(cache.stats().loaderErrors, 1)
    })

    it('different keys load independently', async () => {
      const cache = env.group().open()
      const seen: string[] = []
      await Promise.all(['a', 'b', 'c', 'a', 'b'].map((key) => cache.getOrSet(key, async () => (seen.push(key), key))))
      assert.deepEqual(seen.sort(), ['a', 'b', 'c'])
    })

    if (!backend.start) return

    it('two instances: the second waits for the first one’s loader instead of running its own', async () => {
      const group = env.group()
      const [a, b] = [group.open(), group.open()]
      let calls = 0
      let started: () => void = () => {}
      const leading = new Promise<void>((resolve) => (started = resolve))
      const loader = async () => {
        calls++
        started()
        await delay(150)
        return 'once'
      }
      const first = a.getOrSetEntry('k', loader)
      await leading
      const second = await b.getOrSetEntry('k', loader)
      assert.equal((await first).status, 'miss')
      assert.deepEqual([second.value, second.status, calls], ['once', 'coalesced', 1])
    })

    it('when the leader’s loader fails, a waiting instance takes the lease over and loads', async () => {
      const group = env.group()
      const [a, b] = [group.open(), group.open()]
      let started: () => void = () => {}
      const leading = new Promise<void>((resolve) => (started = resolve))
      const first = a.getOrSet('k', async () => {
        started()
        await delay(80)
        throw new Error('leader failed')
      })
      await leading
      const second = b.getOrSet('k', async () => 'follower loaded')
      await assert.rejects(first, /leader failed/)
      assert.equal(await second, 'follower loaded')
    })

    it('a follower waits at most lease.wait for a stuck leader, then loads itself', async () => {
      const group = env.group()
      const a = group.open()
      const b = group.open({ lease: { wait: '150ms' } })
      const { release, result: stuck } = await leaderThatHangs(a)
      assert.equal(await b.getOrSet('k', async () => 'self-loaded'), 'self-loaded')
      assert.equal(b.stats().coalesced, 1, 'the follower waited for the leader first')
      release('late')
      assert.equal(await stuck, 'late')
    })

    // memcached counts TTLs in whole seconds: its shortest lease is 1 s.
    const shortLease = backend.name.includes('memcached') ? 1_000 : 200

    it('a leader whose instance dies (its store closed) frees its followers when its lease expires', async () => {
      const group = env.group()
      const a = group.open({ lease: { ttl: shortLease } })
      const b = group.open()
      const { release, result: dead } = await leaderThatHangs(a)
      await a.store!.close()
      assert.equal(await b.getOrSet('k', async () => 'after the lease expired'), 'after the lease expired')
      release('never mind')
      await dead
    })

    it('a loader that outlives the lease ttl keeps its lease (renewed): the other instance waits, one load in all', async () => {
      const group = env.group()
      // memcached's clock ticks in whole seconds: a 1 s expiry may come at any moment within a second.
      const ttl = backend.name.includes('memcached') ? 2_000 : shortLease
      const a = group.open({ lease: { ttl } })
      const b = group.open()
      let calls = 0
      const { release, result: leader } = await leaderThatHangs(a)
      const follower = b.getOrSetEntry('k', async () => (calls++, 'duplicated'))
      await delay(ttl * 2.5)
      release('once')
      assert.equal(await leader, 'once')
      const second = await follower
      assert.deepEqual([second.value, second.status, calls], ['once', 'coalesced', 0])
    })

    it('a leader releases only its own lease (compare-and-delete), never one another instance took', async () => {
      const group = env.group()
      const a = group.open({ lease: { ttl: shortLease } })
      const store = a.store!
      const { release, result: leader } = await leaderThatHangs(a)
      // As if a's lease had expired during a pause and instance "other" had taken it since.
      const leaseKey = 'c:#lease:c:default:0:k'
      assert.match(String(await store.get(leaseKey)), /^[0-9a-f-]{36}$/)
      await store.set(leaseKey, 'other', { ttlMs: 60_000 })
      release('v')
      assert.equal(await leader, 'v')
      assert.equal(String(await store.get(leaseKey)), 'other')
    })

    it('a follower loads by itself as soon as the leader says its value will not be cached', async () => {
      const group = env.group()
      const a = group.open()
      const b = group.open({ lease: { wait: '30s' } })
      let skipped = false
      let leaderDone = false
      const leader = a.getOrSet('k', async ({ skip }) => {
        skip()
        skipped = true
        // Generous: only a follower that ignored the leader's word would still be waiting by then.
        await delay(3_000)
        leaderDone = true
        return 'not cached'
      })
      await waitFor('the leader to give up caching', async () => skipped)
      assert.equal(await b.getOrSet('k', async () => 'self-loaded'), 'self-loaded')
      assert.equal(leaderDone, false, 'b did not wait for the leader')
      assert.equal(await leader, 'not cached')
    })

    it('3 processes x 10 concurrent identical misses: 1 loader call in total', async () => {
      const url = env.url as string
      const workers = await Promise.all([0, 1, 2].map(() => Worker.start('cache-worker.js', [url, 'stampede'])))
      try {
        const replies = await Promise.all(
          workers.map((w) => w.send<{ loads: number; values: Array<{ from: number }> }>({ op: 'stampede', key: 'same-question', count: 10, loadMs: 300 })),
        )
        assert.equal(replies.reduce((sum, r) => sum + r.loads, 0), 1, `loads per process: ${replies.map((r) => r.loads)}`)
        const producers = new Set(replies.flatMap((r) => r.values.map((v) => v.from)))
        assert.equal(producers.size, 1, 'all 30 callers got the one loaded value')
      } finally {
        await Promise.all(workers.map((w) => w.stop()))
      }
    })
  })
}
