import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRateLimiter, createStore, type RateLimiterOptions, type Store } from '../../src/index.js'
import { garbledReplies } from '../harness/garbled-replies.js'
import { RedisCluster } from '../harness/redis-cluster.js'
import { RedisServer } from '../harness/redis-server.js'

/** Script calls the server has run so far (EVALSHA, and EVAL after a NOSCRIPT). */
async function scriptCalls(server: RedisServer): Promise<number> {
  const stats = await server.cli('INFO', 'commandstats')
  let calls = 0
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1])
  return calls
}

const ALGORITHMS = ['fixed-window', 'sliding-window', 'token-bucket'] as const

describe('decision batching on Redis', () => {
  let server: RedisServer
  let store: Store
  before(async () => {
    server = await RedisServer.start()
    store = createStore({ url: server.url, commandTimeout: '5s' })
  })
  after(async () => {
    await store.close()
    await server.stop()
  })

  const limiter = (namespace: string, options: Partial<RateLimiterOptions> = {}) =>
    createRateLimiter({ store, limit: 50, window: '1h', namespace, logger: false, ...options } as RateLimiterOptions)

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: 64 calls made in one tick go out as two script calls of 32, decided in call order`, async () => {
      const rl = limiter(`one-call-${algorithm}`, { algorithm })
      await rl.peek('warm-up')
      const before = await scriptCalls(server)
      const decisions = await Promise.all(Array.from({ length: 64 }, () => rl.consume('k')))
      assert.equal((await scriptCalls(server)) - before, 2)
      assert.deepEqual(
        decisions.map((d) => d.allowed),
        Array.from({ length: 64 }, (_, i) => i < 50),
      )
      assert.deepEqual(
        decisions.slice(0, 50).map((d) => d.remaining),
        Array.from({ length: 50 }, (_, i) => 49 - i),
      )
      assert.ok(decisions.every((d) => d.source === 'store'))
      await rl.close()
    })
  }

  it('a tick of fewer than 16 calls goes out as one call; of 16 or more, in two halves', async () => {
    const rl = limiter('halves', { limit: 1_000 })
    await rl.peek('warm-up')
    let before = await scriptCalls(server)
    await Promise.all(Array.from({ length: 15 }, (_, i) => rl.consume(`k${i}`)))
    assert.equal((await scriptCalls(server)) - before, 1)
    before = await scriptCalls(server)
    await Promise.all(Array.from({ length: 16 }, (_, i) => rl.consume(`k${i}`)))
    assert.equal((await scriptCalls(server)) - before, 2)
    await rl.close()
  })

  it('batchSize bounds one call: 100 calls at batchSize 16 make 7 calls', async () => {
    const rl = limiter('bounded', { batchSize: 16, limit: 1_000 })
    await rl.peek('warm-up')
    const before = await scriptCalls(server)
    const decisions = await Promise.all(Array.from({ length: 100 }, (_, i) => rl.consume(`k${i % 10}`)))
    assert.equal((await scriptCalls(server)) - before, 7)
    assert.ok(decisions.every((d) => d.allowed && d.source === 'store'))
    await rl.close()
  })

  it('batchSize counts rule states: 3 rules make at most 42 decisions a call, 1,000 sliding buckets 1', async () => {
    const rules = ['a', 'b', 'c'].map((name) => ({ name, limit: 1_000, window: '1h', algorithm: 'fixed-window' as const }))
    const three = limiter('weighted', { limit: undefined, window: undefined, rules } as Partial<RateLimiterOptions>)
    const fine = limiter('fine-buckets', { buckets: 1_000 })
    await Promise.all([three.peek('warm-up'), fine.peek('warm-up')])
    let before = await scriptCalls(server)
    await Promise.all(Array.from({ length: 100 }, () => three.consume('k')))
    assert.equal((await scriptCalls(server)) - before, 3, '42 + 42 + 16')
    before = await scriptCalls(server)
    await Promise.all(Array.from({ length: 3 }, () => fine.consume('k')))
    assert.equal((await scriptCalls(server)) - before, 3)
    await Promise.all([three.close(), fine.close()])
  })

  it('decisions asked for in the tick the store is closed in are still sent and answered', async () => {
    const own = createStore({ url: server.url, commandTimeout: '5s' })
    const rl = createRateLimiter({ store: own, limit: 200, window: '1h', namespace: 'closing', logger: false })
    await rl.peek('warm-up')
    const decisions = Promise.all(Array.from({ length: 300 }, () => rl.consume('k')))
    const closed = own.close()
    const answered = await decisions
    await closed
    assert.equal(answered.filter((d) => d.allowed && d.source === 'store').length, 200)
    assert.ok(answered.every((d) => d.source === 'store'))
    await rl.close()
  })

  it('batchSize 1 sends every decision alone', async () => {
    const rl = limiter('alone', { batchSize: 1 })
    await rl.peek('warm-up')
    const before = await scriptCalls(server)
    await Promise.all(Array.from({ length: 20 }, () => rl.consume('k')))
    assert.equal((await scriptCalls(server)) - before, 20)
    await rl.close()
  })

  it('consume, peek and adjust in one batch each keep their own mode', async () => {
    const rl = limiter('modes', { limit: 10 })
    await rl.consume('k', { cost: 4 })
    const [taken, peeked, refunded, after] = await Promise.all([
      rl.consume('k', { cost: 3 }),
      rl.peek('k', { cost: 5 }),
      rl.adjust('k', { cost: { [rl.rules[0]!.name]: -2 } }),
      rl.consume('k', { cost: 5 }),
    ])
    assert.equal(taken.remaining, 3)
    assert.equal(peeked.allowed, false, 'a peek sees what the consume before it in the batch took')
    assert.equal(peeked.remaining, 3, 'and takes nothing')
    assert.equal(refunded.remaining, 5)
    assert.equal(after.allowed, true)
    assert.equal(after.remaining, 0)
    await rl.close()
  })

  it('several rules, all or nothing, inside one batch', async () => {
    const rl = limiter('rules', { limit: undefined, window: undefined, rules: [
      { name: 'requests', limit: 5, window: '1h' },
      { name: 'tokens', limit: 100, window: '1h', algorithm: 'token-bucket' },
    ] } as Partial<RateLimiterOptions>)
    const decisions = await Promise.all([30, 30, 30, 30, 30, 1, 1].map((tokens) => rl.consume('k', { cost: { requests: 1, tokens } })))
    assert.deepEqual(
      decisions.map((d) => d.allowed),
      [true, true, true, false, false, true, true],
    )
    assert.equal(decisions[6]!.rules.find((r) => r.name === 'requests')!.remaining, 0)
    await rl.close()
  })

  it('a store that throws instead of rejecting fails the calls of its batch, not the process', async () => {
    const throwing = new Proxy(store, {
      get(target, property) {
        if (property === 'runScript') {
          return () => {
            throw new Error('thrown by the store')
          }
        }
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const rl = createRateLimiter({ store: throwing, limit: 5, window: '1h', namespace: 'throwing', logger: false })
    const outcomes = await Promise.allSettled([rl.consume('a'), rl.consume('b')])
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.status)),
      ['thrown by the store', 'thrown by the store'],
    )
    await rl.close()
  })

  /** Two decisions in one batch over a garbled reply: both go to the store-error policy, with this error. */
  async function bothFail(garble: (reply: number[]) => unknown, namespace: string, message: RegExp): Promise<void> {
    const errors: Error[] = []
    const rl = createRateLimiter({ store: garbledReplies(store, garble), limit: 5, window: '1h', namespace, onStoreError: 'deny', logger: false })
    rl.events.on('store-error', ({ error }) => errors.push(error))
    const decisions = await Promise.all([rl.consume('a'), rl.consume('b')])
    assert.ok(decisions.every((d) => !d.allowed && d.reason === 'store-error'))
    assert.equal(errors.length, 2)
    assert.equal((errors[0] as Error & { code: string }).code, 'E_STORE_COMMAND')
    assert.match(errors[0]!.message, message)
    await rl.close()
  }

  it('a reply of the wrong shape fails each decision of the batch to the store-error policy, named', () =>
    // Its last number lost.
    bothFail((reply) => reply.slice(0, -1), 'garbage', /expected 2 decisions \(of 1 rules each\) in the reply, got 5 numbers/))

  it('a reply whose decisions do not add up (an allowed one marked refused) answers none of the batch', () =>
    // An allowed decision takes 3 numbers, a refused one 5: two allowed ones read as refused leave 1 over.
    bothFail((reply) => [0, ...reply.slice(1)], 'flipped', /expected 2 decisions \(of 1 rules each\) in the reply, got 6 numbers/))
})

describe('decision batching on Redis Cluster', () => {
  let cluster: RedisCluster
  let store: Store
  before(async () => {
    cluster = await RedisCluster.start()
    store = createStore({ url: cluster.url, commandTimeout: '5s' })
    // Connected, the slot map known: decisions go per node from the first.
    await store.ping()
  })
  after(async () => {
    await store.close()
    await cluster.stop()
  })

  it('batches per node: keys of many slots in one tick, every decision exact, at most one call per master', async () => {
    const rl = createRateLimiter({ store, limit: 3, window: '1h', namespace: 'nodes', logger: false })
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`)
    await Promise.all(keys.map((key) => rl.peek(key)))
    const before = await Promise.all(cluster.nodes.map(scriptCalls))
    // Five calls per key, all in one tick: three allowed each, whatever slot and node the key is on.
    const decisions = await Promise.all(keys.flatMap((key) => Array.from({ length: 5 }, () => rl.consume(key))))
    const after = await Promise.all(cluster.nodes.map(scriptCalls))
    assert.ok(decisions.every((d) => d.source === 'store'))
    assert.equal(decisions.filter((d) => d.allowed).length, keys.length * 3)
    assert.deepEqual(
      after.map((calls, i) => calls - (before[i] as number)),
      [1, 1, 1],
      'one call per master for 40 keys over ~40 slots',
    )
    await rl.close()
  })

  it('the empty identity keeps every rule of a decision in one slot', async () => {
    const rl = createRateLimiter({
      store,
      namespace: 'empty',
      logger: false,
      onStoreError: 'deny',
      rules: [
        { name: 'a', limit: 2, window: '1h' },
        { name: 'b', limit: 5, window: '1h', algorithm: 'token-bucket' },
      ],
    })
    const decisions = await Promise.all([rl.consume(''), rl.consume(''), rl.consume('')])
    assert.deepEqual(
      decisions.map((d) => [d.allowed, d.source]),
      [
        [true, 'store'],
        [true, 'store'],
        [false, 'store'],
      ],
    )
    await rl.close()
  })

  it('a key that is not on the node it was sent to: the batch goes again slot by slot, nothing counted twice', async () => {
    // A chaos wrapper around the real store: every key is said to live on the first master, as a
    // client with a stale slot map would believe while slots move.
    const first = store.nodeOf!('anything-at-all')
    const masters = new Set(Array.from({ length: 200 }, (_, i) => store.nodeOf!(`k${i}`)))
    assert.equal(masters.size, 3)
    const stale = new Proxy(store, {
      get(target, property) {
        if (property === 'nodeOf') return () => first
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const rl = createRateLimiter({ store: stale, limit: 3, window: '1h', namespace: 'stale', logger: false })
    const errors: string[] = []
    rl.events.on('store-error', ({ error }) => errors.push(error.message))
    const keys = Array.from({ length: 30 }, (_, i) => `user-${i}`)
    const decisions = await Promise.all(keys.flatMap((key) => Array.from({ length: 5 }, () => rl.consume(key))))
    assert.deepEqual(errors, [])
    assert.ok(decisions.every((d) => d.source === 'store'))
    assert.equal(decisions.filter((d) => d.allowed).length, keys.length * 3)
    for (const key of keys) assert.equal((await rl.peek(key)).remaining, 0, `${key} was charged exactly 3`)
    await rl.close()
  })
})
