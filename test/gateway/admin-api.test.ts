import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { MemcachedServer } from '../harness/memcached-server.js'
import { RedisServer } from '../harness/redis-server.js'
import { type RunningGateway, startGateway } from './helpers.js'

const TOKEN = 'admin-token-for-tests-0123'
const KEYS = [
  { name: 'a1', hash: hashKey('key-a1'), tenant: 'acme' },
  { name: 'b1', hash: hashKey('key-b1'), tenant: 'bravo' },
]
const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], ...extra })

interface AdminCall {
  status: number
  body: Record<string, unknown>
}

function admin(gw: RunningGateway, token: string | null = TOKEN) {
  return async (method: string, path: string, body?: unknown): Promise<AdminCall> => {
    const response = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await response.text()
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
  }
}

const ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/admin/stats'],
  ['POST', '/admin/cache/invalidate', { tags: ['x'] }],
  ['POST', '/admin/ratelimit/reset', { key: 'a1' }],
  ['GET', '/admin/sessions/s1'],
  ['PUT', '/admin/sessions/s1', { a: 1 }],
  ['PATCH', '/admin/sessions/s1', { a: 2 }],
  ['DELETE', '/admin/sessions/s1'],
]

describe('admin API', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream?.close())

  it('does not exist without admin.token', async () => {
    const gw = await startGateway(upstream.url)
    try {
      for (const [method, path, body] of ROUTES) {
        const reply = await admin(gw)(method, path, body)
        assert.equal(reply.status, 404, `${method} ${path}`)
        assert.equal((reply.body.error as { code: string }).code, 'not_found')
      }
    } finally {
      await gw.close()
    }
  })

  it('refuses a missing, wrong or gateway-key token on every route with 401, and a token under 16 characters at start', async () => {
    const gw = await startGateway(upstream.url, { keys: KEYS, admin: { token: TOKEN } })
    try {
      for (const token of [null, 'wrong-token-of-the-same-size', `${TOKEN}x`, TOKEN.slice(0, -1), 'key-a1']) {
        for (const [method, path, body] of ROUTES) {
          const reply = await admin(gw, token)(method, path, body)
          assert.equal(reply.status, 401, `${method} ${path} with ${token}`)
          assert.equal((reply.body.error as { code: string }).code, 'invalid_admin_token')
        }
      }
      // Nor does the admin token open the LLM routes.
      await assert.rejects(gw.client(TOKEN).chat.completions.create(chat('hi')), { status: 401 })
    } finally {
      await gw.close()
    }
    await assert.rejects(startGateway(upstream.url, { admin: { token: 'short' } }), /admin\.token/)
    await assert.rejects(startGateway(upstream.url, { admin: { token: 'a token with spaces in it' } }), /admin\.token/)
    await assert.rejects(startGateway(upstream.url, { admin: { token: 'ŧøkęn-non-ascii-0123' } }), /admin\.token/)
    await assert.rejects(startGateway(upstream.url, { keys: [{ name: 'k', tenant: 't', hash: hashKey('gateway-key-also-admin') }], admin: { token: 'gateway-key-also-admin' } }), /not also a gateway key/)
  })

  it('unknown admin paths and methods answer 401 without the token and 404 with it', async () => {
    const gw = await startGateway(upstream.url, { admin: { token: TOKEN } })
    try {
      for (const [method, path] of [['GET', '/admin/nope'], ['POST', '/admin/stats'], ['DELETE', '/admin/cache/invalidate'], ['GET', '/admin/']]) {
        assert.equal((await admin(gw, null)(method as string, path as string)).status, 401, `${method} ${path} without the token`)
        assert.equal((await admin(gw)(method as string, path as string)).status, 404, `${method} ${path} with it`)
      }
    } finally {
      await gw.close()
    }
  })

  it('GET /admin/stats sums up hits, money, 429s by rule and the store', async () => {
    const gw = await startGateway(upstream.url, { keys: KEYS, admin: { token: TOKEN }, limits: { user: { requests: { limit: 1, window: '1m' } } } })
    try {
      const client = gw.client('key-a1')
      await client.chat.completions.create(chat('one'))
      await client.chat.completions.create(chat('one'))
      await client.chat.completions.create(chat('one'))
      await gw.client('key-b1').chat.completions.create(chat('two'))
      await client.chat.completions.create(chat('three', { user: 'u' }))
      await assert.rejects(client.chat.completions.create(chat('four', { user: 'u' })), { status: 429 })
      const { status, body } = await admin(gw)('GET', '/admin/stats')
      assert.equal(status, 200)
      const stats = body as unknown as import('../../src/gateway/admin/admin-stats.js').AdminStats
      assert.deepEqual(stats.requests.byCache, { HIT: 2, STALE: 0, MISS: 3, BYPASS: 0 })
      assert.deepEqual(stats.requests.byStatus, { 200: 5, 429: 1 })
      assert.equal(stats.cache.hitRatio, 2 / 5)
      assert.equal(stats.upstream.calls, 3)
      assert.equal(stats.upstream.callsAvoided, 2)
      assert.deepEqual(stats.limits.blocked, { 'user-requests': 1 })
      assert.ok(stats.money.savedUsd > 0 && stats.money.spentUsd > stats.money.savedUsd)
      assert.deepEqual(stats.money.topTenants.map((line) => line.name), ['acme', 'bravo'])
      assert.equal(stats.money.topTenants[0]?.cacheHits, 2)
      assert.ok((stats.upstream.latency.p50 ?? 0) > 0 && (stats.overhead.p99 ?? 0) > 0)
      assert.equal(stats.store.kind, 'memory')
      assert.equal(stats.store.status, 'ok')
    } finally {
      await gw.close()
    }
  })

  it('invalidation reaches every end user and key of a tenant under cache.scope user and key, and no other tenant', async () => {
    for (const scope of ['user', 'key']) {
      const keys = [...KEYS, { name: 'a2', hash: hashKey('key-a2'), tenant: 'acme' }]
      const gw = await startGateway(upstream.url, { keys, admin: { token: TOKEN }, cache: { scope } })
      try {
        const ask = async (key: string, user: string) => {
          const response = await gw.post('/v1/chat/completions', chat('persona answer', { user }), { authorization: `Bearer ${key}`, 'x-tollgate-cache-tags': 'persona:support' })
          await response.text()
          return response.headers.get('x-tollgate-cache')
        }
        const callers: Array<[string, string]> = [['key-a1', 'alice'], ['key-a2', 'bob'], ['key-b1', 'carol']]
        for (const [key, user] of callers) assert.equal(await ask(key, user), 'MISS', `${scope}: ${key} ${user} apart`)
        for (const [key, user] of callers) assert.equal(await ask(key, user), 'HIT')
        const reply = await admin(gw)('POST', '/admin/cache/invalidate', { tenant: 'acme', tags: ['persona:support'] })
        assert.deepEqual(reply.body, { invalidated: { namespaces: ['t/acme'], tags: ['persona:support'] } })
        assert.equal(await ask('key-a1', 'alice'), 'MISS', `${scope}: alice's entry dropped`)
        assert.equal(await ask('key-a2', 'bob'), 'MISS', `${scope}: bob's entry dropped`)
        assert.equal(await ask('key-b1', 'carol'), 'HIT', `${scope}: the other tenant kept its entry`)
      } finally {
        await gw.close()
      }
    }
  })

  it('a session PATCH on memcached (no compare-and-set) is a 501 naming why', async () => {
    const memcached = await MemcachedServer.start()
    const gw = await startGateway(upstream.url, { store: { url: memcached.url }, admin: { token: TOKEN } })
    try {
      assert.equal((await admin(gw)('PUT', '/admin/sessions/m', { a: 1 })).status, 200)
      const patched = await admin(gw)('PATCH', '/admin/sessions/m', { a: 2 })
      assert.equal(patched.status, 501)
      assert.equal((patched.body.error as { code: string }).code, 'unsupported_by_store')
    } finally {
      await gw.close()
      await memcached.stop()
    }
  })

  it('rate-limit reset lets a limited key and user through again', async () => {
    const gw = await startGateway(upstream.url, { keys: KEYS, admin: { token: TOKEN }, limits: { requests: { limit: 1, window: '1h' }, user: { requests: { limit: 1, window: '1h' } } } })
    try {
      const client = gw.client('key-a1')
      await client.chat.completions.create(chat('a', { user: 'u' }))
      await assert.rejects(client.chat.completions.create(chat('b', { user: 'u' })), { status: 429 })
      assert.equal((await admin(gw)('POST', '/admin/ratelimit/reset', { key: 'nobody' })).status, 404)
      assert.equal((await admin(gw)('POST', '/admin/ratelimit/reset', { key: 'a1', extra: 1 })).status, 400)
      assert.equal((await admin(gw)('POST', '/admin/ratelimit/reset', { key: 'a1', tenant: 'bravo' })).status, 400, 'a key of another tenant')
      const reset = await admin(gw)('POST', '/admin/ratelimit/reset', { key: 'a1', user: 'u' })
      assert.equal(reset.status, 200)
      await client.chat.completions.create(chat('c', { user: 'u' }))
      // Another key of another tenant was never touched.
      await gw.client('key-b1').chat.completions.create(chat('d'))
      await assert.rejects(gw.client('key-b1').chat.completions.create(chat('e')), { status: 429 })
    } finally {
      await gw.close()
    }
  })

  it('sessions: PUT, GET, PATCH as a merge patch without lost updates, DELETE, and bad input', async () => {
    const gw = await startGateway(upstream.url, { admin: { token: TOKEN } })
    try {
      const call = admin(gw)
      assert.equal((await call('GET', '/admin/sessions/chat-1')).status, 404)
      assert.equal((await call('PATCH', '/admin/sessions/chat-1', { a: 1 })).status, 404, 'PATCH does not create')
      assert.equal((await call('PUT', '/admin/sessions/chat-1?ttl=3600', { lang: 'en', history: [1], drop: true })).status, 200)
      const patched = await call('PATCH', '/admin/sessions/chat-1', { lang: 'ru', drop: null, nested: { x: 1 } })
      assert.deepEqual(patched.body, { id: 'chat-1', value: { lang: 'ru', history: [1], nested: { x: 1 } } })
      await Promise.all(Array.from({ length: 20 }, (_, i) => call('PATCH', '/admin/sessions/chat-1', { [`k${i}`]: i })))
      const read = (await call('GET', '/admin/sessions/chat-1')).body.value as Record<string, unknown>
      for (let i = 0; i < 20; i++) assert.equal(read[`k${i}`], i, `update ${i} kept`)
      assert.equal((await call('DELETE', '/admin/sessions/chat-1')).status, 204)
      assert.equal((await call('DELETE', '/admin/sessions/chat-1')).status, 404)
      assert.equal((await call('GET', '/admin/sessions/chat-1')).status, 404)
      assert.equal((await call('GET', `/admin/sessions/${'x'.repeat(100)}`)).status, 404, 'an id of 100 characters is an id')
      assert.ok([400, 404].includes((await call('GET', `/admin/sessions/${'x'.repeat(200)}`)).status))
      assert.equal((await call('PUT', '/admin/sessions/s?ttl=-1', {})).status, 400)
      const deep = JSON.parse(`${'{"a":'.repeat(100)}1${'}'.repeat(100)}`) as unknown
      await call('PUT', '/admin/sessions/deep', {})
      assert.equal((await call('PATCH', '/admin/sessions/deep', deep)).status, 400)
      // A body that is not JSON never replaces a session with a string.
      const raw = (method: string, type: string, body: string) => fetch(`${gw.url}/admin/sessions/typed`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type }, body })
      assert.equal((await raw('PUT', 'application/json', `${'['.repeat(5_000)}${']'.repeat(5_000)}`)).status, 400, 'deeper than server.maxJsonDepth')
      assert.equal((await raw('PUT', 'application/json', '{"kept":true}')).status, 200)
      assert.equal((await raw('PATCH', 'text/plain', '{"z":1}')).status, 415)
      assert.equal((await raw('PUT', 'application/x-www-form-urlencoded', 'a=1')).status, 415)
      assert.equal((await raw('PATCH', 'application/merge-patch+json', '{"z":1}')).status, 200, "RFC 7396's media type")
      assert.deepEqual((await call('GET', '/admin/sessions/typed')).body.value, { kept: true, z: 1 })
      const proto = await call('PUT', '/admin/sessions/p', JSON.parse('{"constructor":{"prototype":{"polluted":1}}}'))
      assert.ok(proto.status === 200 || proto.status === 400)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    } finally {
      await gw.close()
    }
  })
})

describe('admin cache invalidation reaches every instance', () => {
  let upstream: FakeUpstream
  let redis: RedisServer
  let a: RunningGateway
  let b: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    redis = await RedisServer.start()
    const config = { store: { url: redis.url }, keys: KEYS, admin: { token: TOKEN }, cache: { sharedNamespaces: ['docs'] } }
    a = await startGateway(upstream.url, config)
    b = await startGateway(upstream.url, config)
  })
  after(async () => {
    await a?.close()
    await b?.close()
    await upstream?.close()
    await redis?.stop()
  })

  /** The cache status instance `gw` answers `content` with, and its cache key. */
  async function ask(gw: RunningGateway, content: string, headers: Record<string, string> = {}): Promise<{ cache: string; key: string }> {
    const response = await gw.post('/v1/chat/completions', chat(content), { authorization: 'Bearer key-a1', ...headers })
    assert.equal(response.status, 200)
    await response.text()
    return { cache: response.headers.get('x-tollgate-cache') ?? '', key: response.headers.get('x-tollgate-cache-key') ?? '' }
  }

  /** Warms both instances' L1 with `content`, so a later MISS on b can only come from the invalidation. */
  async function warm(content: string, headers: Record<string, string> = {}): Promise<string> {
    const { key } = await ask(a, content, headers)
    assert.equal((await ask(b, content, headers)).cache, 'HIT')
    assert.equal((await ask(b, content, headers)).cache, 'HIT')
    return key
  }

  it('by keys, by tags, and by namespace, applied on the other instance, tenant-scoped', async () => {
    const call = admin(a)
    const key = await warm('by key')
    assert.match(key, /^[0-9a-f]{64}$/)
    assert.equal((await call('POST', '/admin/cache/invalidate', { tenant: 'acme', keys: [key] })).status, 200)
    assert.equal((await ask(b, 'by key')).cache, 'MISS')

    await warm('by tag', { 'x-tollgate-cache-tags': 'persona:support' })
    await warm('other tag', { 'x-tollgate-cache-tags': 'persona:sales' })
    // Another tenant's tag of the same name is not touched.
    const other = await call('POST', '/admin/cache/invalidate', { tenant: 'bravo', tags: ['persona:support'] })
    assert.equal(other.status, 200)
    assert.equal((await ask(b, 'by tag', { 'x-tollgate-cache-tags': 'persona:support' })).cache, 'HIT')
    const tagged = await call('POST', '/admin/cache/invalidate', { tenant: 'acme', tags: ['persona:support'] })
    assert.deepEqual(tagged.body, { invalidated: { namespaces: ['t/acme'], tags: ['persona:support'] } })
    assert.equal((await ask(b, 'by tag', { 'x-tollgate-cache-tags': 'persona:support' })).cache, 'MISS')
    assert.equal((await ask(b, 'other tag', { 'x-tollgate-cache-tags': 'persona:sales' })).cache, 'HIT')

    await warm('in a namespace', { 'x-tollgate-cache-namespace': 'support-bot' })
    await warm('outside it')
    assert.equal((await call('POST', '/admin/cache/invalidate', { tenant: 'acme', namespace: 'support-bot' })).status, 200)
    assert.equal((await ask(b, 'in a namespace', { 'x-tollgate-cache-namespace': 'support-bot' })).cache, 'MISS')
    assert.equal((await ask(b, 'outside it')).cache, 'HIT')

    await warm('shared', { 'x-tollgate-cache-namespace': 'docs' })
    assert.equal((await call('POST', '/admin/cache/invalidate', { allTenants: true, clear: true })).status, 200)
    assert.equal((await ask(b, 'outside it')).cache, 'MISS')
    assert.equal((await call('POST', '/admin/cache/invalidate', { namespace: 'docs', tenant: 'acme' })).status, 200)
    assert.equal((await ask(b, 'shared', { 'x-tollgate-cache-namespace': 'docs' })).cache, 'MISS')
  })

  it('refuses bodies that do not say exactly what and whose', async () => {
    const call = admin(a)
    for (const body of [{}, { tags: ['x'] }, { tenant: 'acme' }, { tenant: 'acme', tags: ['x'], clear: true }, { tenant: 'acme', keys: ['not-a-key'] }, { tenant: 'acme', allTenants: true, clear: true }, { tenant: 'acme', tags: 'x' }, { tenant: '__proto__', clear: true }, { tenant: 'acme', clear: true, extra: 1 }]) {
      const reply = await call('POST', '/admin/cache/invalidate', body)
      assert.ok(reply.status === 400 || reply.status === 404, `${JSON.stringify(body)}: ${reply.status}`)
      assert.equal(typeof (reply.body.error as { message: string }).message, 'string')
    }
    assert.equal((await call('POST', '/admin/cache/invalidate', { tenant: 'nobody', clear: true })).status, 404)
  })

  it('stats on Redis report its memory, policy, keys and clients', async () => {
    const { body } = await admin(a)('GET', '/admin/stats')
    const store = body.store as { kind: string; status: string; redis: { usedMemoryBytes: number; maxmemoryPolicy: string; keys: number; connectedClients: number } }
    assert.equal(store.kind, 'redis')
    assert.equal(store.status, 'ok')
    assert.ok(store.redis.usedMemoryBytes > 0)
    assert.equal(typeof store.redis.maxmemoryPolicy, 'string')
    assert.ok(store.redis.keys > 0)
    assert.ok(store.redis.connectedClients >= 2)
    assert.equal((body.cache as { bus: string }).bus, 'healthy')
  })
})
