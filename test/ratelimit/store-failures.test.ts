import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRateLimiter, createStore, type RateLimiter, type Store } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'

const TIMEOUT_MS = 100

function captureLogger() {
  const lines: string[] = []
  return { lines, logger: { warn: (m: string) => lines.push(`warn ${m}`), info: (m: string) => lines.push(`info ${m}`) } }
}

describe('rate limiter through store failures', () => {
  let server: RedisServer
  let store: Store
  const limiters: RateLimiter[] = []
  const open = (options: Parameters<typeof createRateLimiter>[0]) => {
    const limiter = createRateLimiter({ store, circuitBreaker: { probeInterval: '200ms' }, ...options })
    limiters.push(limiter)
    return limiter
  }

  before(async () => {
    server = await RedisServer.start()
    store = createStore({ url: server.url, commandTimeout: TIMEOUT_MS, reconnectMaxDelay: '200ms' })
  })
  after(async () => {
    await Promise.all(limiters.map((l) => l.close()))
    await store.close()
    await server.stop()
  })

  it('killed: falls back to memory within the timeout; restarted: back to the store by itself', async () => {
    const { lines, logger } = captureLogger()
    const limiter = open({ limit: 1_000, window: '1m', logger, namespace: 'kill' })
    const switches: string[] = []
    limiter.events.on('fallback-on', () => switches.push('on'))
    limiter.events.on('fallback-off', () => switches.push('off'))
    assert.equal((await limiter.consume('u')).source, 'store')

    await server.kill9()
    for (let i = 0; i < 20; i++) {
      const value = await limiter.consume('u')
      assert.equal(value.source, 'fallback')
      assert.equal(value.allowed, true)
    }
    assert.equal(limiter.stats().circuit, 'open')
    // Only the calls that opened the circuit (and a probe, on a slow machine) asked the store.
    assert.ok(limiter.stats().storeErrors < 20, `${limiter.stats().storeErrors} of 20 decisions asked the dead store`)

    await server.restart()
    await waitFor('decisions from the store again', async () => (await limiter.consume('u')).source === 'store', 10_000)
    assert.deepEqual(switches, ['on', 'off'], 'each switch reported once')
    assert.equal(lines.filter((l) => l.startsWith('warn')).length, 1, 'one warning for the switch, not one per request')
    assert.equal(lines.filter((l) => l.startsWith('info')).length, 1)
    assert.equal(limiter.stats().fallbackSwitches, 1)
  })

  it('paused (SIGSTOP): decisions keep coming instead of hanging, and the store takes over after SIGCONT', async () => {
    const limiter = open({ limit: 1_000, window: '1m', logger: false, namespace: 'pause' })
    await limiter.consume('u')
    server.pause()
    try {
      const all = await Promise.all(Array.from({ length: 50 }, () => limiter.consume('u')))
      assert.ok(all.every((d) => d.source === 'fallback' && d.allowed))
      const failed = limiter.stats().storeErrors
      assert.equal(limiter.stats().circuit, 'open')
      // With the circuit open, a decision no longer asks the store (so never waits for its timeout).
      const next = await limiter.consume('u')
      assert.equal(next.source, 'fallback')
      assert.equal(limiter.stats().storeErrors, failed, 'the open circuit answered without the store')
    } finally {
      server.resume()
    }
    await waitFor('decisions from the store again', async () => (await limiter.consume('u')).source === 'store', 10_000)
  })

  it("onStoreError 'deny' refuses and 'allow' allows while the store is down", async () => {
    const deny = open({ limit: 5, window: '1m', onStoreError: 'deny', logger: false, namespace: 'deny' })
    const allow = open({ limit: 5, window: '1m', onStoreError: 'allow', logger: false, namespace: 'allow' })
    await server.kill9()
    try {
      const denied = await deny.consume('u')
      assert.deepEqual([denied.allowed, denied.source, denied.reason], [false, 'fallback', 'store-error'])
      assert.ok(denied.retryAfterMs > 0)
      for (let i = 0; i < 10; i++) assert.equal((await allow.consume('u')).allowed, true, 'allow lets everything through')
    } finally {
      await server.restart()
    }
  })

  it('the fallback divides the limit by the number of instances', async () => {
    const limiter = open({ limit: 100, window: '1m', instances: 4, logger: false, namespace: 'share' })
    await server.kill9()
    try {
      let allowed = 0
      for (let i = 0; i < 60; i++) if ((await limiter.consume('u')).allowed) allowed++
      assert.equal(allowed, 25)
    } finally {
      await server.restart()
    }
  })

  it('a store that answers with an error (OOM under noeviction, NOPERM after an ACL change) is a store failure: onStoreError decides, nothing is thrown', async () => {
    const { lines, logger } = captureLogger()
    const limiter = open({ limit: 1_000, window: '1m', logger: false, namespace: 'refused-warmup' })
    // The tests before restarted the server: the shared store may still be reconnecting.
    await waitFor('the store after the restarts above', async () => (await limiter.consume('u')).source === 'store', 10_000)
    const refused = open({ limit: 1_000, window: '1m', logger, namespace: 'refused' })
    assert.equal((await refused.consume('u')).source, 'store')
    await server.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
    await server.cli('CONFIG', 'SET', 'maxmemory', '1')
    try {
      for (let i = 0; i < 5; i++) assert.equal((await refused.consume('u')).source, 'fallback', 'OOM')
      // The store answered: the circuit stays closed and the next call asks it again.
      assert.equal(refused.stats().circuit, 'closed')
    } finally {
      await server.cli('CONFIG', 'SET', 'maxmemory', '0')
    }
    assert.equal((await refused.consume('u')).source, 'store', 'back on the store at the first call after OOM')
    assert.deepEqual(
      lines.map((line) => line.split(' ')[0]),
      ['warn', 'info'],
      'one line per switch',
    )
    assert.match(lines[0] ?? '', /OOM/)

    await server.cli('ACL', 'SETUSER', 'limiter', 'on', '>secret', '~*', '&*', '+@all')
    const { hostname, port } = new URL(server.url)
    const restricted = createStore({ url: `redis://limiter:secret@${hostname}:${port}`, commandTimeout: TIMEOUT_MS })
    const acl = createRateLimiter({ store: restricted, limit: 1_000, window: '1m', logger: false, namespace: 'acl' })
    try {
      assert.equal((await acl.consume('u')).source, 'store')
      await server.cli('ACL', 'SETUSER', 'limiter', '-@all', '+ping', '+info')
      assert.equal((await acl.consume('u')).source, 'fallback', 'NOPERM')
      await server.cli('ACL', 'SETUSER', 'limiter', '+@all')
      assert.equal((await acl.consume('u')).source, 'store')
    } finally {
      await acl.close()
      await restricted.close()
      await server.cli('ACL', 'DELUSER', 'limiter')
    }
  })
})
