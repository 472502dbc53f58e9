import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'
import { Worker } from '../harness/worker.js'

const FIVE_MINUTES = 5 * 60_000

/**
 * Two instances (processes) whose host clocks disagree by five minutes. Tag invalidation compares
 * one instance's invalidation stamp with another's entry stamp, and entry lifetimes written by one
 * are read by the other: all of them must be in the store's clock (Redis TIME).
 */
describe('two hosts whose clocks disagree by five minutes share one cache (Redis TIME)', () => {
  let redis: RedisServer
  const workers: Worker[] = []
  let namespaces = 0
  before(async () => {
    redis = await RedisServer.start()
  })
  after(async () => {
    await Promise.all(workers.map((worker) => worker.stop()))
    await redis.stop()
  })
  const storeTimeMs = async () => {
    const [seconds, micros] = (await redis.cli('TIME')).split('\n')
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  }
  /** `fast`'s clock runs five minutes ahead of `slow`'s (which is the store's). */
  const pair = async () => {
    const namespace = `skew${namespaces++}`
    const [fast, slow] = await Promise.all([
      Worker.start('cache-worker.js', [redis.url, namespace], { CLOCK_SKEW_MS: String(FIVE_MINUTES) }),
      Worker.start('cache-worker.js', [redis.url, namespace]),
    ])
    workers.push(fast, slow)
    return { fast, slow }
  }
  const get = async (worker: Worker, key: string) => (await worker.send<{ value: unknown }>({ op: 'get', key, l1: false })).value

  it('an invalidation made on the host whose clock is behind still invalidates entries made before it', async () => {
    const { fast, slow } = await pair()
    await fast.send({ op: 'set', key: 'answer', value: 'old', tags: ['docs'] })
    await slow.send({ op: 'invalidateTags', tags: ['docs'] })
    assert.equal(await get(slow, 'answer'), null)
    assert.equal(await get(fast, 'answer'), null)
  })

  it('an entry made after an invalidation on the host whose clock is ahead is valid at once', async () => {
    const { fast, slow } = await pair()
    await fast.send({ op: 'invalidateTags', tags: ['docs'] })
    // An entry stamped in the invalidation's own millisecond errs on the safe side (invalid): let the
    // store's clock move on first, as it has in any real sequence of requests.
    const after = (await storeTimeMs()) + 5
    await waitFor("the store's clock to pass the invalidation", async () => (await storeTimeMs()) > after)
    await slow.send({ op: 'set', key: 'answer', value: 'new', tags: ['docs'] })
    assert.equal(await get(slow, 'answer'), 'new')
    assert.equal(await get(fast, 'answer'), 'new')
  })

  it("an entry written by one host lives as long for the other, and its age is told on each host's own clock", async () => {
    const { fast, slow } = await pair()
    await slow.send({ op: 'set', key: 'k', value: 'v', ttl: '2m' })
    const seen = await fast.send<{ status: string; createdAt: number; now: number }>({ op: 'entry', key: 'k' })
    assert.equal(seen.status, 'hit', 'not expired for the host five minutes ahead')
    assert.ok(Math.abs(seen.now - seen.createdAt) < 60_000, `age ${seen.now - seen.createdAt} ms on fast's clock, not five minutes`)
  })
})
