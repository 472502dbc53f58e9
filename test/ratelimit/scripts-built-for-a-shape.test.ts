import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createStore, ManualClock, type Store } from '../../src/index.js'
import type { AlgorithmCode } from '../../src/ratelimit/algorithms.js'
import { pushDecision, RATE_LIMIT, ruleArgs, type RuleSpec } from '../../src/ratelimit/decide.js'
import { decideScript } from '../../src/ratelimit/specialised-script.js'
import { RedisServer } from '../harness/redis-server.js'

/**
 * A script built for a shape of rules keeps its numbers in Lua locals, of which Lua allows 200 per
 * function: the differential test holds the shapes it exercises to the TypeScript twin, this one the
 * edges of what is built at all. The decisions themselves are the differential test's.
 */
describe('scripts built for a shape of rules', () => {
  let server: RedisServer
  let redis: Store
  const clock = new ManualClock()
  const memory = createStore({ clock })

  before(async () => {
    server = await RedisServer.start()
    redis = createStore({ url: server.url, keyPrefix: 'built:', commandTimeout: '2s' })
  })
  after(async () => {
    await redis.close()
    await memory.close()
    await server.stop()
  })

  const sliding = (buckets: number): RuleSpec => ({ algo: 's', limit: 50, windowMs: 60_000, param: buckets })
  const of = (algo: AlgorithmCode): RuleSpec => (algo === 's' ? sliding(10) : { algo, limit: 50, windowMs: 60_000, param: algo === 't' ? 5 : 0 })

  /** The largest `n` for which `shape(n)` is still built, found by growing it until it is not. */
  function largest(shape: (n: number) => { rules: RuleSpec[]; groups: number[] }): number {
    let n = 1
    while (decideScript(shape(n + 1).rules, shape(n + 1).groups) !== RATE_LIMIT) n++
    return n
  }

  /** Runs two calls of three decisions each (charges, a refusal, a refund) on Redis and the memory twin. */
  async function agrees(rules: RuleSpec[], groups: number[]): Promise<void> {
    const script = decideScript(rules, groups)
    assert.notEqual(script, RATE_LIMIT, 'built')
    const keys = Array.from({ length: Math.max(...groups) }, (_, g) => `alice:${rules.length}:${rules[0]?.param}:${groups.join('')}:${g}`)
    const nowUs = 4_000_000_000_000_000
    clock.set(nowUs / 1000)
    for (const [mode, cost] of [['c', 30], ['c', 40], ['f', -5]] as const) {
      const args = ruleArgs(rules, nowUs, groups)
      pushDecision(args, mode, rules.map(() => cost))
      pushDecision(args, 'p', rules.map(() => 1))
      const [fromRedis, fromMemory] = await Promise.all([redis.runScript(script, [...keys, ...keys], args), memory.runScript(script, [...keys, ...keys], args)])
      assert.deepEqual(fromRedis, fromMemory, `${mode} ${cost}`)
    }
  }

  it('the largest sliding window built runs on Redis; one bucket more is left to the generic script', async () => {
    const buckets = largest((n) => ({ rules: [sliding(n)], groups: [1] }))
    assert.ok(buckets >= 20, `${buckets} buckets`)
    await agrees([sliding(buckets)], [1])
    assert.equal(decideScript([sliding(buckets + 1)], [1]), RATE_LIMIT)
  })

  it('the most rules built, a key each or all in one key, run on Redis', async () => {
    for (const algo of ['f', 's', 't'] as const) {
      const apart = largest((n) => ({ rules: Array.from({ length: n }, () => of(algo)), groups: Array.from({ length: n }, (_, i) => i + 1) }))
      assert.ok(apart >= 3, `${apart} rules of ${algo} apart`)
      await agrees(
        Array.from({ length: apart }, () => of(algo)),
        Array.from({ length: apart }, (_, i) => i + 1),
      )
      const together = largest((n) => ({ rules: Array.from({ length: n }, () => of(algo)), groups: Array.from({ length: n }, () => 1) }))
      assert.ok(together >= 3, `${together} rules of ${algo} in one key`)
      await agrees(
        Array.from({ length: together }, () => of(algo)),
        Array.from({ length: together }, () => 1),
      )
    }
  })

  it('a script sent the arguments of another shape refuses the call and writes nothing', async () => {
    const script = decideScript([of('f')], [1])
    const args = ruleArgs([of('s')], undefined, [1])
    pushDecision(args, 'c', [1])
    await assert.rejects(redis.runScript(script, ['mismatch'], args), /another shape of rules/)
    assert.equal(await redis.get('mismatch'), null)
  })

  it('one script per shape: limits and windows are arguments', () => {
    const sha = (rules: RuleSpec[], groups: number[]) => decideScript(rules, groups).sha
    assert.equal(sha([of('f'), sliding(10)], [1, 1]), sha([{ ...of('f'), limit: 7, windowMs: 1000 }, { ...sliding(10), limit: 3 }], [1, 1]))
    assert.notEqual(sha([sliding(10)], [1]), sha([sliding(11)], [1]))
    assert.notEqual(sha([of('f'), of('f')], [1, 1]), sha([of('f'), of('f')], [1, 2]))
  })
})
