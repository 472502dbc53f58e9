import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createHash } from 'node:crypto'
import { createStore, ManualClock, type Store, type StoreScript } from '../../src/index.js'
import type { AlgorithmCode, RuleArgs } from '../../src/ratelimit/algorithms.js'
import { pushDecision, RATE_LIMIT, replyWidth, ruleArgs } from '../../src/ratelimit/decide.js'
import { decideScript } from '../../src/ratelimit/specialised-script.js'
import { Random } from '../fuzz/random.js'
import { RedisServer } from '../harness/redis-server.js'

/** The suite's seeded source (mulberry32): a failure names its seed and replays exactly. */
function random(seed: number): () => number {
  const source = new Random(seed)
  return () => source.next()
}

const STEPS = 10_000
const KEYS = ['a', 'b', 'c', 'd']

const EXPIRE_TIME_LUA = "return redis.call('PEXPIRETIME', KEYS[1])"
/** Absolute expiry of a key in ms (-1 none, -2 missing), read the same way from both stores. */
const EXPIRE_TIME: StoreScript<number> = {
  name: 'test-expire-time',
  lua: EXPIRE_TIME_LUA,
  sha: createHash('sha1').update(EXPIRE_TIME_LUA).digest('hex'),
  memory: (ctx, keys) => {
    const ttl = ctx.pttl(keys[0] as string)
    return ttl < 0 ? ttl : ctx.now() + ttl
  },
}

/**
 * Feeds the same random (key, cost, time step) sequence to the TypeScript reference (memory store)
 * and to the Lua script (real Redis, time passed in), and requires identical replies at every step
 * and the same absolute expiry on every key. The simulated time lies decades ahead, so Redis (which
 * expires by its real clock) keeps every state the simulation still needs, while the memory store's
 * clock follows the simulation.
 */
describe('differential: TypeScript reference vs Lua script', { concurrency: true }, () => {
  let server: RedisServer
  let redis: Store
  let built: Store

  before(async () => {
    server = await RedisServer.start()
    redis = createStore({ url: server.url, keyPrefix: 'diff:', commandTimeout: '2s' })
    built = createStore({ url: server.url, keyPrefix: 'diff-built:', commandTimeout: '2s' })
  })
  after(async () => {
    await redis.close()
    await built.close()
    await server.stop()
  })

  /**
   * `batch`: every key shares one rule set and each step sends 1 to 8 decisions (keys may repeat,
   * modes mixed) in one call at one time, as the limiter's batcher does; each must see what the
   * ones before it in the call wrote. `groups`: per rule, which of a decision's keys holds its state
   * (several rules side by side in one key); default a key per rule. With groups, a third run (memory,
   * a key per rule) must answer the same too: sharing a key changes no decision. The script built
   * for the call's shape of rules (specialised-script.ts) runs every call too, on keys of its own.
   */
  async function compare(seed: number, makeRules: (rand: () => number) => Array<Omit<RuleArgs, 'cost'>>, batch = false, groups?: number[]): Promise<void> {
    const rand = random(seed)
    const clock = new ManualClock()
    const memory = createStore({ clock })
    const perRule = createStore({ clock })
    let decisions = 0
    let refusals = 0
    const shared = makeRules(rand)
    const ruleSets = KEYS.map(() => (batch ? shared : makeRules(rand)))
    // Microseconds, with sub-millisecond offsets so GCRA's fractional intervals are exercised too.
    let nowUs = 4_000_000_000_000_000 + Math.floor(rand() * 1e9)
    for (let step = 0; step < STEPS; step++) {
      const jump = rand()
      // Mostly small steps (bursts inside a window), sometimes whole windows (boundaries), sometimes zero.
      nowUs += jump < 0.1 ? 0 : jump < 0.9 ? Math.floor(rand() * 50_000) : Math.floor(rand() * 3_000_000)
      clock.set(Math.floor(nowUs / 1000))
      const size = batch ? 1 + Math.floor(rand() * 8) : 1
      let args: Array<string | number> = []
      let perRuleArgs: Array<string | number> = []
      let script: StoreScript<number[]> = RATE_LIMIT
      const keys: string[] = []
      const perRuleKeys: string[] = []
      const drawn: string[] = []
      for (let d = 0; d < size; d++) {
        const k = Math.floor(rand() * KEYS.length)
        const rules = ruleSets[k] as Array<Omit<RuleArgs, 'cost'>>
        const draw = rand()
        // Peek, force (adjust: refunds and charges past the limit, as usage reconciliation makes) or consume.
        const mode = draw < 0.1 ? 'p' : draw < 0.2 ? 'f' : 'c'
        const withCost = rules.map((rule) => ({
          ...rule,
          cost: mode === 'f' ? Math.floor(rand() * 9) - 4 : rand() < 0.05 ? rule.limit + 1 : Math.floor(rand() * 4),
        }))
        if (d === 0) {
          args = ruleArgs(withCost, nowUs, groups)
          perRuleArgs = ruleArgs(withCost, nowUs)
          script = decideScript(withCost, groups)
          assert.notEqual(script, RATE_LIMIT, 'a script built for the shape')
        }
        const costs = withCost.map((rule) => rule.cost)
        pushDecision(args, mode, costs)
        pushDecision(perRuleArgs, mode, costs)
        const width = groups ? Math.max(...groups) : withCost.length
        for (let g = 0; g < width; g++) keys.push(`${KEYS[k]}:${seed}:${g}`)
        for (let i = 0; i < withCost.length; i++) perRuleKeys.push(`${KEYS[k]}:${seed}:rule${i}`)
        drawn.push(`key ${k} costs ${withCost.map((rule) => rule.cost).join(',')} mode ${mode}`)
      }
      const [fromLua, fromBuilt, fromTs] = await Promise.all([
        redis.runScript(RATE_LIMIT, keys, args),
        built.runScript(script, keys, args),
        memory.runScript(RATE_LIMIT, keys, args),
      ])
      const where = `seed ${seed}, step ${step}, now ${nowUs}, rules ${JSON.stringify(ruleSets)}, decisions ${drawn.join('; ')}`
      assert.deepEqual(fromLua, fromTs, where)
      assert.deepEqual(fromBuilt, fromTs, `built for the shape: ${where}`)
      if (groups) assert.deepEqual(await perRule.runScript(RATE_LIMIT, perRuleKeys, perRuleArgs), fromTs, `a key per rule: ${where}`)
      const rules = (ruleSets[0] as unknown[]).length
      for (let d = 0, offset = 0; d < size; d++) {
        decisions++
        if (fromTs[offset] === 0) refusals++
        offset += replyWidth(fromTs[offset] === 1, rules)
      }
      const touched = [...new Set(keys)]
      const expiries = await Promise.all(
        touched.flatMap((key) => [redis.runScript(EXPIRE_TIME, [key], []), built.runScript(EXPIRE_TIME, [key], []), memory.runScript(EXPIRE_TIME, [key], [])]),
      )
      for (let i = 0; i < touched.length; i++) {
        // The memory store drops a state at its expiry; Redis, on a real clock, keeps it a while longer.
        if (expiries[3 * i + 2] === -2) continue
        assert.equal(expiries[3 * i], expiries[3 * i + 2], `expiry of ${touched[i]} at ${where}`)
        assert.equal(expiries[3 * i + 1], expiries[3 * i + 2], `expiry of ${touched[i]}, built for the shape, at ${where}`)
      }
    }
    await memory.close()
    await perRule.close()
    // The sequence must exercise both answers, or agreeing would prove little.
    assert.ok(refusals > decisions * 0.05 && refusals < decisions * 0.95, `${refusals} refusals in ${decisions}`)
  }

  const single = (algo: AlgorithmCode) => (rand: () => number) => {
    const limit = 1 + Math.floor(rand() * 20)
    const windowMs = [1, 7, 250, 1000, 1500, 60_000][Math.floor(rand() * 6)] as number
    const param = algo === 's' ? 1 + Math.floor(rand() * 12) : algo === 't' ? 1 + Math.floor(rand() * 30) : 0
    return [{ algo, limit, windowMs, param }]
  }

  it(`fixed window: ${STEPS} steps agree`, () => compare(1, single('f')))
  it(`sliding window: ${STEPS} steps agree`, () => compare(2, single('s')))
  it(`token bucket (GCRA): ${STEPS} steps agree`, () => compare(3, single('t')))
  it(`three rules at once, all or nothing: ${STEPS} steps agree`, () =>
    compare(4, (rand) => [...single('s')(rand), ...single('t')(rand), ...single('f')(rand)]))
  it(`fixed window, batches of 1-8 decisions in one call: ${STEPS} steps agree`, () => compare(5, single('f'), true))
  it(`sliding window, batches: ${STEPS} steps agree`, () => compare(18, single('s'), true))
  it(`token bucket, batches: ${STEPS} steps agree`, () => compare(21, single('t'), true))
  it(`three rules, batches: ${STEPS} steps agree`, () => compare(8, (rand) => [...single('s')(rand), ...single('t')(rand), ...single('f')(rand)], true))
  const three = (rand: () => number) => [...single('s')(rand), ...single('t')(rand), ...single('f')(rand)]
  it(`three rules in one key: ${STEPS} steps agree`, () => compare(31, three, false, [1, 1, 1]))
  it(`three rules in one key, batches: ${STEPS} steps agree`, () => compare(32, three, true, [1, 1, 1]))
  it(`three rules, two sharing a key, batches: ${STEPS} steps agree`, () => compare(33, three, true, [1, 2, 1]))
  it(`two token buckets in one key, batches: ${STEPS} steps agree`, () => compare(34, (rand) => [...single('t')(rand), ...single('t')(rand)], true, [1, 1]))
})
