import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRateLimiter, createStore, type RateLimitDecision, type Store } from '../../src/index.js'
import { pushDecision, RATE_LIMIT, ruleArgs, type RuleSpec } from '../../src/ratelimit/decide.js'
import { decideScript } from '../../src/ratelimit/specialised-script.js'
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
    assert.ok(ttl > 0 && ttl <= 62_000, `ttl ${ttl}`)
    await rl.close()
  })

  /** The real store, its script replies passed through `garble`: a chaos wrapper, as in decision-batching.test.ts. */
  const garbling = (garble: (reply: number[]) => unknown): Store =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'runScript') return async (...args: Parameters<Store['runScript']>) => garble((await target.runScript(...args)) as number[])
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
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
      const rl = createRateLimiter({ store: garbling((reply) => garble(widen(reply))), limit: 5, window: '1h', namespace: `garbled-${GARBLED.findIndex(([w]) => w === what)}`, onStoreError: 'deny', logger: false })
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
})
