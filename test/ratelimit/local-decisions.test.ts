import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRateLimiter, createStore, ManualClock, type RateLimitDecision, type RuleOptions } from '../../src/index.js'
import { RATE_LIMIT, scriptArgs } from '../../src/ratelimit/decide.js'
import { toDecision } from '../../src/ratelimit/decision.js'
import { safeIdentifier } from '../../src/stores/keys.js'
import type { MemoryStore } from '../../src/stores/memory-store.js'
import { Random } from '../fuzz/random.js'

const STEPS = 6_000
/** Limiters per run, each with its own random rules. */
const LIMITERS = 4
/** Identities: two plain, one with braces (hashed into its key), one long enough for a cons string. */
const IDS = ['u1', 'u2', 'x{y}', 'tenant-0123456789:user-0123456789']
const WINDOWS = [1, 7, 250, 1_000, 1_500, 60_000]
/** A scope value longer than the limiter keeps keys for (128 characters): its keys are built on every call. */
const LONG_USER = `user-${'0123456789'.repeat(13)}`

type Mode = 'c' | 'p' | 'f'

/**
 * Drives a limiter on a memory store (its in-place decisions, local-decisions.ts) and the reference
 * (the RATE_LIMIT script twin, decideRules over evaluateRule, on a second memory store) with the
 * same seeded sequence of identities, costs per rule, scopes, modes (consume, peek, adjust with
 * negative costs), resets and clock steps (past every window and expiry too, and back), and
 * requires the same decision at every step and the same remaining time to live on every key seen so
 * far. It also requires the states to be changed in place: one object per key until a reset.
 */
async function compare(seed: number, makeRules: (rand: Random) => RuleOptions[]): Promise<void> {
  const rand = new Random(seed)
  const clock = new ManualClock(1_700_000_000_000 + rand.int(0, 1e6))
  // A prefix on the limiter's store: the keys it keeps for recent identities are the prefixed ones.
  const store = createStore({ clock, keyPrefix: 'lim:' }) as MemoryStore
  const reference = createStore({ clock })
  const limiters = Array.from({ length: LIMITERS }, (_, i) => createRateLimiter({ store, rules: makeRules(rand), namespace: `s${seed}-${i}`, logger: false }))
  const seenKeys = new Set<string>()
  const objects = new Map<string, Set<unknown>>()
  const resets = new Map<string, number>()
  let refusals = 0
  for (let step = 0; step < STEPS; step++) {
    const draw = rand.next()
    // Mostly small steps (bursts in a window), sometimes zero, sometimes past a window or an expiry,
    // sometimes back (a system clock set back: the sliding window then keeps its newer buckets).
    if (draw < 0.02) clock.set(clock.now() - rand.int(1, 2_000))
    else clock.advance(draw < 0.1 ? 0 : draw < 0.85 ? rand.int(0, 50) : draw < 0.97 ? rand.int(0, 3_000) : rand.int(0, 200_000))
    const which = rand.int(0, LIMITERS - 1)
    const limiter = limiters[which] as (typeof limiters)[number]
    const id = rand.pick(IDS)
    // Scope values: kept by the limiter's scoped cache, hashed into the key (braces), too long to keep, or none at all.
    // (undefined as JavaScript callers send it, `{ user: req.user?.id }`: the type says string.)
    const scopes = rand.chance(0.5) ? ({ user: rand.pick<string | undefined>(['p', 'q', '', 'r{s}', LONG_USER, undefined]) } as Record<string, string>) : undefined
    const keys = limiter.rules.map((rule) => {
      const key = `rl:s${seed}-${which}:{${safeIdentifier(id)}}:${rule.keyPart}`
      return rule.scope === undefined ? key : `${key}:${safeIdentifier(scopes?.user ?? '-')}`
    })
    const where = `seed ${seed}, step ${step}, id ${id}, now ${clock.now()}`
    if (rand.chance(0.01)) {
      await limiter.reset(id, { scopes })
      await reference.delete(...keys)
      for (const key of keys) resets.set(key, (resets.get(key) ?? 0) + 1)
      continue
    }
    const mode: Mode = rand.pick(['c', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'p', 'f'])
    const cost: Record<string, number> = {}
    for (const rule of limiter.rules) {
      if (mode === 'f') {
        if (rand.chance(0.8)) cost[rule.name] = rand.int(-4, 4)
        continue
      }
      // Now and then exactly the quota (through only an empty window or a full bucket) or one more (never through).
      const quota = rule.code === 't' ? rule.param : rule.limit
      const odd = rand.next()
      cost[rule.name] = odd < 0.04 ? quota : odd < 0.08 ? quota + 1 : rand.int(0, 3)
    }
    const decision: RateLimitDecision =
      mode === 'c' ? await limiter.consume(id, { cost, scopes }) : mode === 'p' ? await limiter.peek(id, { cost, scopes }) : await limiter.adjust(id, { cost, scopes })
    // The reference's costs as the limiter takes them: 1 for a rule left out (0 when adjusting), 0 for a rule whose scope has no value.
    const args = limiter.rules.map((rule) => ({
      algo: rule.code,
      limit: rule.limit,
      windowMs: rule.windowMs,
      param: rule.param,
      cost: rule.scope !== undefined && !scopes?.user ? 0 : (cost[rule.name] ?? (mode === 'f' ? 0 : 1)),
    }))
    const reply = await reference.runScript(RATE_LIMIT, keys, scriptArgs(args, mode))
    assert.deepEqual(decision, toDecision(reply, limiter.rules, 'store'), `${where}, mode ${mode}, costs ${JSON.stringify(args)}`)
    if (!decision.allowed) refusals++
    for (const key of keys) seenKeys.add(key)
    for (const key of seenKeys) assert.equal(await store.pttl(key), await reference.pttl(key), `time to live of ${key} at ${where}`)
    for (const key of keys) {
      const state = store.getLocal(store.localKey(key))
      if (state === undefined) continue
      const seen = objects.get(key) ?? new Set()
      objects.set(key, seen.add(state))
      assert.ok(seen.size <= 1 + (resets.get(key) ?? 0), `${key} holds a new state object without a reset: not changed in place`)
    }
  }
  await Promise.all(limiters.map((limiter) => limiter.close()))
  await Promise.all([store.close(), reference.close()])
  assert.ok(refusals > STEPS * 0.05 && refusals < STEPS * 0.95, `${refusals} refusals in ${STEPS}`)
}

const rule = (algorithm: RuleOptions['algorithm'], name: string, scope?: string) => (rand: Random): RuleOptions => ({
  name,
  algorithm,
  limit: rand.int(1, 20),
  window: rand.pick(WINDOWS),
  ...(algorithm === 'sliding-window' ? { buckets: rand.int(1, 12) } : algorithm === 'token-bucket' ? { burst: rand.int(1, 30) } : {}),
  ...(scope ? { scope } : {}),
})

describe('in-place memory decisions vs the reference', { concurrency: true }, () => {
  for (const [seed, algorithm] of [[11, 'fixed-window'], [12, 'sliding-window'], [13, 'token-bucket']] as const) {
    it(`${algorithm}: ${STEPS} steps agree`, () => compare(seed, (rand) => [rule(algorithm, 'only')(rand)]))
  }
  it(`three rules, one of them scoped, all or nothing: ${STEPS} steps agree`, () =>
    compare(14, (rand) => [rule('sliding-window', 'sw')(rand), rule('token-bucket', 'tb', 'user')(rand), rule('fixed-window', 'fw')(rand)]))
  it(`two rules of one algorithm: ${STEPS} steps agree`, () => compare(15, (rand) => [rule('token-bucket', 'a')(rand), rule('token-bucket', 'b')(rand)]))
})

describe('limiter on a memory store', () => {
  it('decides before consume returns: stats and events come at once, the promise is already settled', async () => {
    const limiter = createRateLimiter({ limit: 1, window: '1m', logger: false })
    const events: string[] = []
    limiter.events.on('allowed', ({ key }) => events.push(`allowed ${key}`))
    limiter.events.on('blocked', ({ key }) => events.push(`blocked ${key}`))
    const first = limiter.consume('u')
    const second = limiter.consume('u')
    assert.deepEqual(events, ['allowed u', 'blocked u'])
    assert.deepEqual([limiter.stats().allowed, limiter.stats().blocked], [1, 1])
    assert.deepEqual([(await first).allowed, (await second).allowed], [true, false])
    await limiter.close()
  })

  it('a rule’s decision is a plain object, though made by a constructor', async () => {
    const limiter = createRateLimiter({ limit: 5, window: '1s', logger: false })
    const [rule] = (await limiter.consume('u')).rules
    assert.equal(Object.getPrototypeOf(rule), Object.prototype)
    assert.deepStrictEqual(Object.keys(rule ?? {}), ['name', 'allowed', 'limit', 'remaining', 'resetMs', 'retryAfterMs'])
    await limiter.close()
  })

  it('scoped calls keep their counts while more scope values than the limiter keeps keys for come and go', async () => {
    const limiter = createRateLimiter({
      rules: [
        { name: 'user', algorithm: 'fixed-window', limit: 3, window: '1m', scope: 'user' },
        { name: 'all', algorithm: 'fixed-window', limit: 100_000, window: '1m' },
      ],
      logger: false,
    })
    const users = Array.from({ length: 5_000 }, (_, i) => `u${i}`)
    for (const user of users) assert.equal((await limiter.consume('t', { scopes: { user } })).remaining, 2)
    // Each of these has long left the limiter's two generations of kept keys: the counts are the store's.
    for (const user of users) assert.equal((await limiter.consume('t', { scopes: { user } })).rules[0]?.remaining, 1, user)
    const all = await limiter.consume('t', { scopes: { user: users[0] as string } })
    assert.deepEqual(
      all.rules.map((rule) => rule.remaining),
      [0, 100_000 - 10_001],
    )
    assert.equal((await limiter.consume('t', { scopes: { user: users[0] as string } })).allowed, false)
    await limiter.close()
  })

  it('states share the store’s bytes and LRU order: one in use stays, one evicted, deleted or replaced starts afresh', async () => {
    const maxBytes = 64 * 1024
    const store = createStore({ maxBytes }) as MemoryStore
    const limiter = createRateLimiter({ store, limit: 1_000, window: '1m', algorithm: 'fixed-window', logger: false })
    const key = (id: string) => `rl:{${id}}:${limiter.rules[0]?.keyPart}`
    for (const id of ['hot', 'cold', 'deleted', 'replaced']) assert.equal((await limiter.consume(id)).remaining, 999)
    // Values fill the budget many times over; 'hot' is used all along (its kept state must count as a use), 'cold' never.
    for (let i = 0; i < 2_000; i++) {
      await store.set(`v:${i}`, Buffer.alloc(100))
      if (i % 20 === 0) await limiter.consume('hot')
    }
    assert.ok(store.bytes <= maxBytes, `${store.bytes} bytes held, budget ${maxBytes}`)
    assert.equal(await store.get('v:0'), null, 'the oldest value was evicted')
    assert.equal((await limiter.consume('hot')).remaining, 1_000 - 102)
    assert.equal((await limiter.consume('cold')).remaining, 999, 'its evicted state is not decided on')
    await limiter.consume('deleted')
    await limiter.consume('replaced')
    await store.delete(key('deleted'))
    await store.set(key('replaced'), 'a value')
    assert.equal((await limiter.consume('deleted')).remaining, 999)
    assert.equal((await limiter.consume('replaced')).remaining, 999)
    await assert.rejects(store.get(key('replaced')), { code: 'E_STORE_COMMAND' }, 'the value was replaced by a state again')
    await limiter.close()
    await store.close()
  })

  it('a full store that does not evict: new keys go to onStoreError until expired states are purged; a closed store throws', async () => {
    const clock = new ManualClock()
    const store = createStore({ clock, evict: false, maxBytes: 4_096 }) as MemoryStore
    const limiter = createRateLimiter({ store, clock, limit: 5, window: '1s', algorithm: 'fixed-window', logger: false })
    let keys = 0
    while (keys < 1_000 && (await limiter.consume(`k${keys}`)).source === 'store') keys++
    assert.ok(keys > 3 && keys < 1_000 && store.bytes > 4_096, `${keys} keys, ${store.bytes} bytes`)
    assert.equal(limiter.stats().storeErrors, 1)
    assert.equal((await limiter.consume('k0')).source, 'fallback', 'even a known key: the store refuses every decision')
    // Every state expires with its window; the circuit's probe finds a store with room again.
    clock.advance(60_000)
    assert.equal(await store.pttl('rl:{k0}:f5/1000'), -2)
    const back = await limiter.consume('k0')
    assert.deepEqual([back.source, back.remaining], ['store', 4])
    assert.equal(store.size, 1, 'the expired states were purged')
    await store.close()
    await assert.rejects(limiter.consume('k0'), { code: 'E_STORE_CLOSED' })
    await limiter.close()
  })
})
