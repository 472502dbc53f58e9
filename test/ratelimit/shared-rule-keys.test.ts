import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRateLimiter, createStore, type Store } from '../../src/index.js'
import { RedisServer } from '../harness/redis-server.js'

/** The keys under `rl:<namespace>:`, sorted. */
async function keysOf(server: RedisServer, namespace: string): Promise<string[]> {
  const reply = await server.cli('--scan', '--pattern', `rl:${namespace}:*`)
  return reply.split('\n').filter(Boolean).sort()
}

describe('a limiter\'s unscoped rules share a key on Redis', () => {
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

  const RULES = [
    // Short and never the one that refuses: a 1-second window that refuses would flake whenever
    // the calls straddle a second boundary of the server's clock.
    { name: 'second', algorithm: 'fixed-window', limit: 100, window: '1s' },
    { name: 'minute', algorithm: 'sliding-window', limit: 5, window: '1m' },
    { name: 'burst', algorithm: 'token-bucket', limit: 10, window: '1m', burst: 4 },
  ] as const

  it('three unscoped rules: one key per identity, holding every rule, with the latest expiry of the three', async () => {
    const rl = createRateLimiter({ store, namespace: 'three', rules: [...RULES], logger: false })
    const decisions = []
    for (let i = 0; i < 6; i++) decisions.push(await rl.consume('alice'))
    await rl.consume('bob')
    assert.deepEqual(
      decisions.map((d) => d.allowed),
      [true, true, true, true, false, false],
      'the burst of 4 refuses the fifth',
    )
    assert.deepEqual(
      decisions[2]?.rules.map((r) => [r.name, r.remaining]),
      [
        ['second', 97],
        ['minute', 2],
        ['burst', 1],
      ],
    )
    assert.deepEqual(await keysOf(server, 'three'), ['rl:three:{alice}:second:f+minute:s+burst:t', 'rl:three:{bob}:second:f+minute:s+burst:t'])
    // The sliding window's state must outlive the 1-second window: the key lives about a minute
    // (up to 66 s for the sliding window, plus an eighth, the padding that lets later writes keep it).
    const ttl = Number(await server.cli('PTTL', 'rl:three:{alice}:second:f+minute:s+burst:t'))
    assert.ok(ttl > 50_000 && ttl <= 74_250, `ttl ${ttl}`)
    await rl.reset('alice')
    assert.deepEqual(await keysOf(server, 'three'), ['rl:three:{bob}:second:f+minute:s+burst:t'])
    assert.equal((await rl.consume('alice')).allowed, true)
    await rl.close()
  })

  it('a scoped rule keeps a key of its own, so limiters with other rules share its counter (per-user limits across keys)', async () => {
    const userRules = [
      { name: 'requests', algorithm: 'fixed-window', limit: 2, window: '1m', scope: 'user' },
      { name: 'tokens', algorithm: 'fixed-window', limit: 100, window: '1m', scope: 'user' },
    ] as const
    const a = createRateLimiter({ store, namespace: 'scoped', rules: [...userRules, { name: 'global', algorithm: 'fixed-window', limit: 50, window: '1m' }], logger: false })
    const b = createRateLimiter({ store, namespace: 'scoped', rules: [userRules[0]], logger: false })
    assert.equal((await a.consume('acme', { scopes: { user: 'u1' }, cost: { requests: 1, tokens: 60 } })).allowed, true)
    const refused = await a.consume('acme', { scopes: { user: 'u1' }, cost: { requests: 1, tokens: 60 } })
    assert.equal(refused.allowed, false, 'the tokens rule refuses: 120 > 100')
    assert.equal(refused.rules.find((r) => r.name === 'requests')?.remaining, 1, 'all or nothing: the refused call took nothing')
    assert.equal((await b.consume('acme', { scopes: { user: 'u1' } })).remaining, 0, 'the other limiter counts on the same requests counter')
    assert.equal((await a.consume('acme', { scopes: { user: 'u2' }, cost: { requests: 1, tokens: 60 } })).allowed, true, 'another user counts apart')
    assert.deepEqual(await keysOf(server, 'scoped'), [
      'rl:scoped:{acme}:global:f',
      'rl:scoped:{acme}:requests:f:u1',
      'rl:scoped:{acme}:requests:f:u2',
      'rl:scoped:{acme}:tokens:f:u1',
      'rl:scoped:{acme}:tokens:f:u2',
    ])
    await a.close()
    await b.close()
  })

  it('a rule charged nothing that holds nothing does not stretch the shared key', async () => {
    const rl = createRateLimiter({
      store,
      namespace: 'stretch',
      rules: [
        { name: 'burst', algorithm: 'token-bucket', limit: 10, window: '1s' },
        { name: 'daily', algorithm: 'sliding-window', limit: 1000, window: '1d' },
      ],
      logger: false,
    })
    const key = 'rl:stretch:{frank}:burst:t+daily:s'
    await rl.consume('frank', { cost: { daily: 0 } })
    const short = Number(await server.cli('PTTL', key))
    assert.ok(short > 0 && short <= 2_000, `only the token bucket holds something: ttl ${short} (its 100 ms, padded by a second)`)
    await rl.consume('frank')
    const long = Number(await server.cli('PTTL', key))
    assert.ok(long > 86_000_000, `the daily rule holds 1: ttl ${long}`)
    await rl.consume('frank', { cost: { daily: 0 } })
    assert.ok(Number(await server.cli('PTTL', key)) > 86_000_000, 'a rule charged nothing keeps what it holds, and its expiry')
    assert.equal((await rl.peek('frank', { cost: 0 })).rules[1]?.remaining, 999)
    await rl.close()
  })

  it('a write whose need fits in the key\'s padded expiry keeps it; one past it moves it', async () => {
    const rl = createRateLimiter({
      store,
      namespace: 'keep',
      rules: [
        { name: 'burst', algorithm: 'token-bucket', limit: 10, window: '1s', burst: 20 },
        { name: 'hour', algorithm: 'fixed-window', limit: 1000, window: '1h' },
      ],
      logger: false,
    })
    const key = 'rl:keep:{hank}:burst:t+hour:f'
    await rl.consume('hank', { cost: { hour: 0 } })
    const first = Number(await server.cli('PTTL', key))
    // The bucket's need moves 100 ms later; the key's expiry, padded by a second, already covers it.
    await rl.consume('hank', { cost: { hour: 0 } })
    const second = Number(await server.cli('PTTL', key))
    assert.ok(first > 1_000 && second <= first, `kept: ${first} then ${second} ms`)
    assert.equal((await rl.consume('hank', { cost: { hour: 0, burst: 15 } })).allowed, true)
    const moved = Number(await server.cli('PTTL', key))
    assert.ok(moved > 2_000, `the bucket now needs 1.7 s, padded by a second: ${first} then ${moved} ms`)
    await rl.close()
  })

  it('a single rule keeps the key it always had', async () => {
    const rl = createRateLimiter({ store, namespace: 'single', algorithm: 'fixed-window', limit: 2, window: '1m', logger: false })
    await rl.consume('carol')
    assert.deepEqual(await keysOf(server, 'single'), ['rl:single:{carol}:f2/60000'])
    await rl.close()
  })

  it('rules whose names join past 128 characters share a key named by their hash', async () => {
    const long = (c: string) => c.repeat(60)
    const rl = createRateLimiter({
      store,
      namespace: 'long',
      rules: [
        { name: long('a'), limit: 2, window: '1m' },
        { name: long('b'), limit: 2, window: '1m' },
        { name: long('c'), limit: 2, window: '1m' },
      ],
      logger: false,
    })
    await rl.consume('dave')
    await rl.consume('dave')
    assert.equal((await rl.consume('dave')).allowed, false)
    const [key, ...rest] = await keysOf(server, 'long')
    assert.equal(rest.length, 0)
    assert.match(key as string, /^rl:long:\{dave\}:\+[\w-]{22}$/)
    await rl.close()
  })

  it('a changed limit keeps the counts; a rule added or removed starts the shared key afresh', async () => {
    const first = createRateLimiter({ store, namespace: 'change', rules: [...RULES], logger: false })
    for (let i = 0; i < 3; i++) await first.consume('erin')
    await first.close()
    const raised = createRateLimiter({ store, namespace: 'change', rules: [RULES[0], { ...RULES[1], limit: 6 }, RULES[2]], logger: false })
    assert.equal((await raised.peek('erin')).rules[1]?.remaining, 3, '3 of 6 taken: the same key, read as before')
    await raised.close()
    const fewer = createRateLimiter({ store, namespace: 'change', rules: [RULES[0], RULES[1]], logger: false })
    assert.equal((await fewer.peek('erin')).rules[1]?.remaining, 5, 'a new key: nothing taken')
    await fewer.close()
  })

  it('rules and scopes named like Object.prototype members are rules and scopes like any other', async () => {
    for (const store_ of [store, createStore()]) {
      const rl = createRateLimiter({
        store: store_,
        namespace: 'proto',
        rules: [
          { name: 'constructor', algorithm: 'fixed-window', limit: 2, window: '1m' },
          { name: 'toString', algorithm: 'fixed-window', limit: 5, window: '1m', scope: 'constructor' },
        ],
        logger: false,
      })
      const first = await rl.consume('gina', { scopes: {} })
      assert.equal(first.allowed, true)
      assert.deepEqual(
        first.rules.map((r) => r.remaining),
        [1, 5],
        'no scope value given: the scoped rule takes nothing',
      )
      const second = await rl.consume('gina', { scopes: { constructor: 'c1' }, cost: { constructor: 1, toString: 2 } })
      assert.deepEqual(
        second.rules.map((r) => r.remaining),
        [0, 3],
      )
      assert.deepEqual((await rl.adjust('gina', { cost: { toString: -1 }, scopes: { constructor: 'c1' } })).rules.map((r) => r.remaining), [0, 4])
      await rl.close()
    }
  })
})
