import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRateLimiter, createStore, type RateLimitDecision, type RateLimiterOptions, type Store } from '../../src/index.js'
import { pushDecision, RATE_LIMIT, ruleArgs, type RuleSpec } from '../../src/ratelimit/decide.js'
import { decideScript } from '../../src/ratelimit/specialised-script.js'
import { garbledReplies } from '../harness/garbled-replies.js'
import { RedisCluster } from '../harness/redis-cluster.js'
import { RedisServer } from '../harness/redis-server.js'

/**
 * Probes from a hostile review of the scripts built per shape of rules (specialised-script.ts) and of
 * the reply format that leaves out an allowed decision's allowed and retry: what a damaged key or a
 * garbled reply does, and whether the built scripts survive a flushed script cache and a Cluster.
 */
describe('review: scripts built per shape, on Redis', () => {
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

  /** A shared key's value: packed little-endian doubles, as struct.pack('d…') writes them. */
  const doubles = (values: number[]): Buffer => {
    const buffer = Buffer.alloc(8 * values.length)
    values.forEach((value, i) => buffer.writeDoubleLE(value, 8 * i))
    return buffer
  }

  it('a shared key whose expiry header is NaN is given an expiry again, by the built script as by the generic one', async () => {
    // `need > kept` is false for a NaN `kept`: the built script kept the NaN and the key's TTL
    // (KEEPTTL; none here), where rate-limit.lua (`expire_at <= kept` false) writes a real one.
    const rules: RuleSpec[] = [
      { algo: 'f', limit: 7, windowMs: 1000, param: 0 },
      { algo: 'f', limit: 4, windowMs: 250, param: 0 },
    ]
    const nowUs = 4_000_000_000_000_000
    const damaged = doubles([Number.NaN, 0, 0, 0, 0])
    const ttls: number[] = []
    for (const script of [RATE_LIMIT, decideScript(rules, [1, 1])]) {
      const key = `nan:${script.sha}`
      await store.set(key, damaged)
      const args = ruleArgs(rules, nowUs, [1, 1])
      pushDecision(args, 'c', [1, 1])
      assert.deepEqual(await store.runScript(script, [key], args), [1, 6, 1000, 3, 250])
      ttls.push(Number(await server.cli('PEXPIRETIME', `${store.keyPrefix}${key}`)))
    }
    assert.equal(ttls[1], ttls[0], 'the same expiry from both scripts')
    assert.equal(ttls[0], nowUs / 1000 + 1000 + 1000, 'the rules\' latest expiry, padded by a second')
  })

  it('through the limiter: a damaged shared key does not live for ever', async () => {
    const rl = createRateLimiter({
      store,
      namespace: 'nan',
      logger: false,
      rules: [
        { name: 'a', algorithm: 'fixed-window', limit: 5, window: '1m' },
        { name: 'b', algorithm: 'token-bucket', limit: 5, window: '1m' },
      ],
    })
    const key = 'rl:nan:{alice}:a:f+b:t'
    await store.set(key, doubles([Number.NaN, 0, 0, 0]))
    assert.equal((await rl.consume('alice')).source, 'store')
    const ttl = Number(await server.cli('PTTL', `${store.keyPrefix}${key}`))
    // At most the minute window's end, padded by an eighth of it (see `padded` in rate-limit.lua).
    assert.ok(ttl > 0 && ttl <= 60_000 + 7_500, `ttl ${ttl}`)
    await rl.close()
  })

  const GARBLED: Array<[string, (reply: number[]) => unknown]> = [
    // Before the check, this one threw in #deliver's promise callback (combine() finds no refusing
    // rule): an unhandled rejection, and the batch's callers waited for ever.
    ['a refusal whose every rule allowed', (reply) => reply.map((_, i) => (i % 5 === 0 ? 0 : i % 5 === 1 ? 1 : 0))],
    ['a first number neither 0 nor 1', (reply) => reply.map((value, i) => (i % 5 === 0 ? 2 : value))],
    ['strings for numbers', (reply) => reply.map((value, i) => (i % 3 === 0 ? value : String(value)))],
    ['nested arrays', (reply) => reply.map((value, i) => (i % 3 === 0 ? value : [value]))],
    ['nulls', (reply) => reply.map((value, i) => (i % 3 === 0 ? value : null))],
    ['not an array', () => 'OK'],
  ]
  for (const [what, garble] of GARBLED) {
    it(`a garbled reply (${what}) fails the batch's decisions to the store-error policy`, async () => {
      // Allowed decisions reply 3 numbers each; every garble above keeps the widths adding up.
      // The first two as refusals: 5 numbers each, so that the widths add up as before the check.
      const widen = (reply: number[]) => (what.startsWith('a ') ? Array.from({ length: (reply.length / 3) * 5 }, () => 0) : reply)
      const errors: Error[] = []
      const rl = createRateLimiter({ store: garbledReplies(store, (reply) => garble(widen(reply))), limit: 5, window: '1h', namespace: `garbled-${GARBLED.findIndex(([w]) => w === what)}`, onStoreError: 'deny', logger: false })
      rl.events.on('store-error', ({ error }) => errors.push(error))
      const unhandled: unknown[] = []
      const onUnhandled = (reason: unknown) => unhandled.push(reason)
      process.on('unhandledRejection', onUnhandled)
      try {
        const timeout = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 2000).unref())
        const decisions = await Promise.race([Promise.all([rl.consume('a'), rl.consume('b'), rl.consume('a')]), timeout])
        assert.notEqual(decisions, 'hung', 'every caller is answered')
        assert.ok((decisions as RateLimitDecision[]).every((d) => !d.allowed && d.reason === 'store-error' && d.source === 'fallback'))
        assert.equal(errors.length, 3)
        assert.ok(errors.every((error) => (error as Error & { code: string }).code === 'E_STORE_COMMAND'))
        await new Promise((resolve) => setImmediate(resolve))
        assert.deepEqual(unhandled, [])
      } finally {
        process.off('unhandledRejection', onUnhandled)
        await rl.close()
      }
    })
  }

  it('SCRIPT FLUSH: the next batch loads the built script again, and the counts go on', async () => {
    const rules: NonNullable<RateLimiterOptions['rules']> = [
      { name: 'a', limit: 3, window: '1h' },
      { name: 'b', algorithm: 'token-bucket', limit: 10, window: '1h', burst: 4 },
      { name: 'c', algorithm: 'fixed-window', limit: 2, window: '1h', scope: 'user' },
    ]
    const rl = createRateLimiter({ store, namespace: 'flush', rules, logger: false, onStoreError: 'deny' })
    const first = await Promise.all([rl.consume('x', { scopes: { user: 'u' } }), rl.consume('y')])
    assert.equal(await server.cli('SCRIPT', 'FLUSH'), 'OK')
    const second = await Promise.all([rl.consume('x', { scopes: { user: 'u' } }), rl.consume('x', { scopes: { user: 'u' } }), rl.consume('y')])
    assert.deepEqual(
      [...first, ...second].map((d) => [d.allowed, d.source, d.rules.map((r) => r.remaining).join('/')]),
      [
        [true, 'store', '2/3/1'],
        [true, 'store', '2/3/2'],
        [true, 'store', '1/2/0'],
        [false, 'store', '1/2/0'],
        [true, 'store', '1/2/2'],
      ],
    )
    await rl.close()
  })
})

describe('review: scripts built per shape, on Redis Cluster', () => {
  let cluster: RedisCluster
  let store: Store
  before(async () => {
    cluster = await RedisCluster.start()
    store = createStore({ url: cluster.url, commandTimeout: '5s' })
    await store.ping()
  })
  after(async () => {
    await store.close()
    await cluster.stop()
  })

  it('two rules sharing a key and two scoped ones: decided on each node by the built script\'s cross-slot variant, before and after SCRIPT FLUSH', async () => {
    const rules: NonNullable<RateLimiterOptions['rules']> = [
      { name: 'a', limit: 4, window: '1h' },
      { name: 'b', algorithm: 'token-bucket', limit: 10, window: '1h', burst: 6 },
      { name: 'c', algorithm: 'fixed-window', limit: 3, window: '1h', scope: 'user' },
      { name: 'd', limit: 5, window: '1h', buckets: 40, scope: 'model' },
    ]
    const errors: string[] = []
    const rl = createRateLimiter({ store, namespace: 'shape', rules, logger: false, onStoreError: 'deny' })
    rl.events.on('store-error', ({ error }) => errors.push(error.message))
    const ids = Array.from({ length: 30 }, (_, i) => `id-${i}`)
    // The limiter's shape: a and b share group 1, c and d a key each (state-groups.ts).
    const specs: RuleSpec[] = [
      { algo: 's', limit: 4, windowMs: 3_600_000, param: 10 },
      { algo: 't', limit: 10, windowMs: 3_600_000, param: 6 },
      { algo: 'f', limit: 3, windowMs: 3_600_000, param: 0 },
      { algo: 's', limit: 5, windowMs: 3_600_000, param: 40 },
    ]
    const variant = decideScript(specs, [1, 1, 2, 3]).crossSlot?.sha as string
    for (const round of [0, 1]) {
      if (round === 1) for (const node of cluster.nodes) assert.equal(await node.cli('SCRIPT', 'FLUSH'), 'OK')
      // Per identity, in one tick: user u0 twice (c allows 3 in all), model m on every call.
      const decisions = await Promise.all(ids.flatMap((id) => [0, 1].map(() => rl.consume(id, { scopes: { user: 'u0', model: 'm' } }))))
      assert.deepEqual(errors, [])
      assert.ok(decisions.every((d) => d.source === 'store'))
      const perId = ids.map((_, i) => decisions.slice(2 * i, 2 * i + 2).map((d) => `${d.allowed}:${d.rules.map((r) => r.remaining).join('/')}`))
      const expected = round === 0 ? ['true:3/5/2/4', 'true:2/4/1/3'] : ['true:1/3/0/2', 'false:1/3/0/2']
      for (const outcome of perId) assert.deepEqual(outcome, expected)
      // 30 identities hash to slots of every master: each ran the variant (loaded it again after the flush).
      for (const node of cluster.nodes) assert.equal(await node.cli('SCRIPT', 'EXISTS', variant), '1')
    }
    await rl.close()
  })
})
