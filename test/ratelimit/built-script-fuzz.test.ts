import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createStore, type Store, type StoreScript } from '../../src/index.js'
import type { AlgorithmCode } from '../../src/ratelimit/algorithms.js'
import { pushDecision, RATE_LIMIT, ruleArgs, type RuleSpec } from '../../src/ratelimit/decide.js'
import { decideScript } from '../../src/ratelimit/specialised-script.js'
import { scriptOf } from '../../src/stores/script.js'
import { Random } from '../fuzz/random.js'
import { RedisServer } from '../harness/redis-server.js'

/** The suite's seeded source (mulberry32): a failure names its seed and replays exactly. */
function random(seed: number): () => number {
  const source = new Random(seed)
  return () => source.next()
}
const pick = <T>(rand: () => number, values: readonly T[]): T => values[Math.floor(rand() * values.length)] as T

/** A key's absolute expiry and its bytes in hex (the value may be any bytes), or its type when it is no string. */
const INSPECT = scriptOf<[number, string]>(
  'test-inspect',
  `local t = redis.call('TYPE', KEYS[1]).ok
  if t ~= 'string' then return { redis.call('PEXPIRETIME', KEYS[1]), t } end
  local v = redis.call('GET', KEYS[1])
  return { redis.call('PEXPIRETIME', KEYS[1]), (v:gsub('.', function(c) return string.format('%02x', c:byte()) end)) }`,
  () => {
    throw new Error('Redis only')
  },
)
/** Writes raw bytes (hex) to a key, with an absolute expiry or none; 'hash' makes it a hash. */
const PLANT = scriptOf<string>(
  'test-plant',
  `redis.call('DEL', KEYS[1])
  if ARGV[1] == 'hash' then return redis.call('HSET', KEYS[1], 'x', '1') end
  local v = ARGV[1]:gsub('..', function(h) return string.char(tonumber(h, 16)) end)
  if ARGV[2] ~= '' then return redis.call('SET', KEYS[1], v, 'PXAT', ARGV[2]) end
  return redis.call('SET', KEYS[1], v)`,
  () => {
    throw new Error('Redis only')
  },
)

function randomShape(rand: () => number, maxRules: number): { rules: RuleSpec[]; groups: number[] } {
  const count = 1 + Math.floor(rand() * maxRules)
  const rules = Array.from({ length: count }, (): RuleSpec => {
    const algo = pick(rand, ['f', 's', 't'] as const)
    const limit = rand() < 0.9 ? 1 + Math.floor(rand() * 20) : pick(rand, [1e12, 1e9, 1])
    const windowMs = pick(rand, [1, 3, 7, 250, 1000, 1500, 60_000, 86_400_000])
    const param = algo === 's' ? (rand() < 0.8 ? 1 + Math.floor(rand() * 12) : 1 + Math.floor(rand() * 60)) : algo === 't' ? (rand() < 0.9 ? 1 + Math.floor(rand() * 30) : 1e12) : 0
    return { algo, limit, windowMs, param }
  })
  // Groups 1..G, each used: the first G rules take one each, the rest any, then shuffled.
  const width = 1 + Math.floor(rand() * count)
  const groups = rules.map((_, i) => (i < width ? i + 1 : 1 + Math.floor(rand() * width)))
  for (let i = groups.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[groups[i], groups[j]] = [groups[j] as number, groups[i] as number]
  }
  return { rules, groups }
}

/**
 * The script built for a shape against the generic rate-limit.lua, on one Redis, over inputs the
 * differential test keeps clear of: costs of 0, negative in every mode, fractional, far past any
 * limit; the clock jumping back; a decision whose two groups name one key; keys holding foreign
 * bytes, NaN and infinities, or another type. Every reply (or the fact of an error) and every key's
 * bytes and expiry must agree, also in a keyspace where each call picks either script at random:
 * the two read each other's writes.
 */
describe('fuzz: scripts built per shape vs the generic script, on Redis', () => {
  let server: RedisServer
  let store: Store
  before(async () => {
    server = await RedisServer.start()
    store = createStore({ url: server.url, keyPrefix: 'fuzz:', commandTimeout: '5s' })
  })
  after(async () => {
    await store.close()
    await server.stop()
  })

  /** The reply, or 'error' (messages name the script's own locals, which differ; FUZZ_DEBUG=1 shows them). */
  const outcome = (script: StoreScript<number[]>, keys: string[], args: Array<string | number>) =>
    store.runScript(script, keys, args).then(
      (reply) => JSON.stringify(reply),
      (error: Error) => (process.env.FUZZ_DEBUG ? `error ${error.message} ${String((error as Error & { cause?: Error }).cause?.message)}` : 'error'),
    )

  it('replies, bytes and expiries agree over 60 random shapes of 120 calls each', async () => {
    const SPACES = ['gen', 'blt', 'mix'] as const
    let calls = 0
    let errors = 0
    for (let s = 0; s < 60; s++) {
      const seed = 7_000 + s
      const rand = random(seed)
      const { rules, groups } = randomShape(rand, rand() < 0.8 ? 4 : 10)
      const script = decideScript(rules, groups)
      if (script === RATE_LIMIT) continue
      const width = Math.max(...groups)
      const numbers = Array.from({ length: width }, (_, g) => {
        const members = rules.filter((_, i) => groups[i] === g + 1)
        return members.reduce((sum, rule) => sum + (rule.algo === 'f' ? 2 : rule.algo === 's' ? rule.param + 2 : 1), members.length > 1 ? 1 : 0)
      })
      let nowUs = 4_000_000_000_000_000 + Math.floor(rand() * 1e9)
      for (let step = 0; step < 120; step++) {
        const jump = rand()
        nowUs += jump < 0.1 ? 0 : jump < 0.8 ? Math.floor(rand() * 50_000) : jump < 0.95 ? Math.floor(rand() * 3_000_000) : -Math.floor(rand() * 2_000_000)
        const nowMs = Math.floor(nowUs / 1000)
        if (rand() < 0.05) {
          // The same damage in every keyspace.
          const g = Math.floor(rand() * width)
          const weird = () => pick(rand, [Number.NaN, Infinity, -Infinity, -0, 0.5, -3, 1e300, nowMs, nowMs + 5000, 2.5, Math.floor(rand() * 10)])
          const kind = Math.floor(rand() * 5)
          const length = (numbers[g] as number) + (kind === 3 ? pick(rand, [-1, 1]) : 0)
          const bytes = Buffer.alloc(8 * length)
          for (let x = 0; x < length; x++) bytes.writeDoubleLE(weird(), 8 * x)
          if (kind === 1) for (let x = 0; x < bytes.length; x++) bytes[x] = Math.floor(rand() * 256)
          const value = kind === 2 ? Buffer.from(pick(rand, ['nan', 'inf', ' 12 ', '0x10', '1e400', '', 'abc', String(nowUs + 1e6)])).toString('hex') : kind === 4 ? 'hash' : bytes.toString('hex')
          const expireAt = rand() < 0.5 ? nowMs + 10_000_000 : ''
          const id = pick(rand, ['a', 'b', 'c'])
          for (const space of SPACES) await store.runScript(PLANT, [`${space}:${seed}:${id}:${g}`], [value, expireAt])
        }
        const args = ruleArgs(rules, nowUs, groups)
        const keys: string[] = []
        const size = 1 + Math.floor(rand() * 8)
        for (let d = 0; d < size; d++) {
          const id = pick(rand, ['a', 'b', 'c'])
          const alias = width > 1 && rand() < 0.05
          for (let g = 0; g < width; g++) keys.push(`${seed}:${id}:${alias && g === width - 1 ? 0 : g}`)
          const draw = rand()
          const mode = draw < 0.15 ? 'p' : draw < 0.35 ? 'f' : 'c'
          const costs = rules.map((rule) => {
            const c = rand()
            if (c < 0.35) return 1
            if (c < 0.45) return 0
            if (c < 0.6) return -Math.floor(rand() * 6)
            if (c < 0.7) return pick(rand, [1e12, -1e12, 2 ** 53, rule.limit, rule.limit + 1, rule.param])
            if (c < 0.78) return pick(rand, [0.5, 2.5, -0.5, 1e-9])
            return Math.floor(rand() * 6)
          })
          pushDecision(args, mode, costs)
        }
        const [generic, built, mixed] = await Promise.all([
          outcome(RATE_LIMIT, keys.map((key) => `gen:${key}`), args),
          outcome(script, keys.map((key) => `blt:${key}`), args),
          outcome(rand() < 0.5 ? script : RATE_LIMIT, keys.map((key) => `mix:${key}`), args),
        ])
        calls++
        if (generic === 'error') errors++
        const where = `seed ${seed}, step ${step}, rules ${JSON.stringify(rules)}, groups ${groups.join(',')}, now ${nowUs}, args ${JSON.stringify(args.slice(2 + 5 * rules.length))}`
        assert.equal(built, generic, `built: ${where}`)
        assert.equal(mixed, generic, `mixed: ${where}`)
        for (const key of new Set(keys)) {
          const [g, b, m] = await Promise.all(SPACES.map((space) => store.runScript(INSPECT, [`${space}:${key}`], [])))
          assert.deepEqual(b, g, `built, key ${key}: ${where}`)
          assert.deepEqual(m, g, `mixed, key ${key}: ${where}`)
        }
      }
    }
    // Errors come from damage (a hash, an infinite expiry): most calls must still decide.
    assert.ok(calls > 3_000 && errors < calls / 5, `${calls} calls, ${errors} errors`)
  })

  it('every shape built compiles and runs on Redis, plain and cross-slot, up to the locals budget', async () => {
    // Random shapes, each grown (a sliding window's buckets, or another rule in some key) until
    // decideScript gives the generic script: the last one built sits at the budget.
    const rand = random(99)
    const seen = new Set<string>()
    for (let c = 0; c < 400; c++) {
      const { rules, groups } = randomShape(rand, 8)
      let last: { rules: RuleSpec[]; groups: number[] } | undefined
      for (let step = 0; step < 300 && decideScript(rules, groups) !== RATE_LIMIT; step++) {
        last = { rules: rules.map((rule) => ({ ...rule })), groups: groups.slice() }
        const sliding = rules.findIndex((rule) => rule.algo === 's')
        if (sliding >= 0 && rand() < 0.6) (rules[sliding] as RuleSpec).param += 1 + Math.floor(rand() * 3)
        else {
          const algo: AlgorithmCode = pick(rand, ['f', 's', 't'])
          rules.push({ algo, limit: 50, windowMs: 60_000, param: algo === 's' ? 1 + Math.floor(rand() * 40) : algo === 't' ? 5 : 0 })
          groups.push(1 + Math.floor(rand() * (Math.max(...groups) + (rand() < 0.3 ? 1 : 0))))
        }
      }
      if (last === undefined) continue
      const script = decideScript(last.rules, last.groups)
      if (seen.has(script.sha)) continue
      seen.add(script.sha)
      const width = Math.max(...last.groups)
      const keys = Array.from({ length: 3 * width }, (_, x) => `edge:${c}:${x % width}`)
      const args = ruleArgs(last.rules, 4e15, last.groups)
      for (const cost of [30, 40, -5]) pushDecision(args, cost < 0 ? 'f' : 'c', last.rules.map(() => cost))
      const variant = script.crossSlot as { lua: string; sha: string }
      const asVariant: StoreScript<number[]> = { ...script, lua: variant.lua, sha: variant.sha }
      const [generic, built, cross] = await Promise.all([
        outcome(RATE_LIMIT, keys.map((key) => `g${key}`), args),
        outcome(script, keys.map((key) => `b${key}`), args),
        // The variant takes its keys as arguments: none declared.
        outcome(asVariant, [], [keys.length, ...keys.map((key) => `fuzz:x${key}`), ...args]),
      ])
      assert.ok(!generic.startsWith('error'), generic)
      const shape = `${last.rules.map((rule) => rule.algo + (rule.algo === 's' ? rule.param : '')).join(',')} in ${last.groups.join(',')}`
      assert.equal(built, generic, shape)
      assert.equal(cross, generic, `cross-slot: ${shape}`)
    }
    assert.ok(seen.size > 200, `${seen.size} shapes at the budget`)
  })
})
