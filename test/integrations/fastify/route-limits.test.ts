import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { tollgatePlugin } from '../../../src/integrations/fastify/index.js'
import { app, serve, statuses } from './helpers.js'

const apps: Array<{ close(): Promise<unknown> }> = []
after(() => Promise.all(apps.map((a) => a.close())))

async function started(build: (instance: ReturnType<typeof app>) => Promise<void> | void, options = {}): Promise<string> {
  const instance = app(options)
  apps.push(instance)
  await build(instance)
  return serve(instance)
}

describe('the Fastify plugin limits requests', () => {
  it('refuses past the limit with 429, Fastify error shape, Retry-After and draft-8 headers', async () => {
    const url = await started(async (f) => {
      await f.register(tollgatePlugin, { limit: 2, window: '1m' })
      f.get('/', async () => 'ok')
    })
    assert.deepEqual(await statuses(url, 2), [200, 200])
    const refused = await fetch(url)
    assert.equal(refused.status, 429)
    const body = (await refused.json()) as { statusCode: number; error: string; message: string }
    assert.equal(body.statusCode, 429)
    assert.equal(body.error, 'Too Many Requests')
    assert.match(body.message, /^Rate limit exceeded, retry in \d+ seconds?$/)
    assert.ok(Number(refused.headers.get('retry-after')) >= 1)
    assert.equal(refused.headers.get('ratelimit-policy'), '"requests";q=2;w=60')
    assert.match(refused.headers.get('ratelimit') ?? '', /^"requests";r=0;t=\d+$/)
    assert.equal(refused.headers.get('x-ratelimit-limit'), null, 'legacy headers are off by default')
  })

  it('gives a route with config.rateLimit its own limit and counter; rateLimit: false is unlimited', async () => {
    const url = await started(async (f) => {
      await f.register(tollgatePlugin, { limit: 3, window: '1m' })
      f.get('/a', async () => 'a')
      f.get('/b', async () => 'b')
      f.get('/strict', { config: { rateLimit: { limit: 1 } } }, async () => 'strict')
      f.get('/free', { config: { rateLimit: false } }, async () => 'free')
    })
    assert.deepEqual(await statuses(`${url}/strict`, 2), [200, 429])
    // The global counter is shared across routes without their own config, untouched by /strict.
    assert.deepEqual([...(await statuses(`${url}/a`, 2)), ...(await statuses(`${url}/b`, 2))], [200, 200, 200, 429])
    assert.deepEqual(await statuses(`${url}/free`, 5), [200, 200, 200, 200, 200])
    const free = await fetch(`${url}/free`)
    assert.equal(free.headers.get('ratelimit'), null)
  })

  it('with global: false, limits only the routes that ask; groupId shares a counter between routes', async () => {
    const url = await started(async (f) => {
      await f.register(tollgatePlugin, { global: false, limit: 1, window: '1m' })
      f.get('/open', async () => 'open')
      f.get('/x', { config: { rateLimit: { groupId: 'xy', limit: 2 } } }, async () => 'x')
      f.get('/y', { config: { rateLimit: { groupId: 'xy', limit: 2 } } }, async () => 'y')
    })
    assert.deepEqual(await statuses(`${url}/open`, 3), [200, 200, 200])
    assert.deepEqual([...(await statuses(`${url}/x`, 1)), ...(await statuses(`${url}/y`, 2))], [200, 200, 429])
  })

  it('counts per X-User-ID with an async keyGenerator; onExceeded and errorResponseBuilder see the refusal', async () => {
    const exceeded: string[] = []
    const url = await started(async (f) => {
      await f.register(tollgatePlugin, {
        limit: 1,
        window: '1m',
        keyGenerator: async (request) => `user:${String(request.headers['x-user-id'])}`,
        onExceeded: (_request, key) => exceeded.push(key),
        errorResponseBuilder: (_request, context) => ({ code: 'slow_down', key: context.key, retryAfter: context.retryAfter, limit: context.decision.limit }),
      })
      f.get('/', async () => 'ok')
    })
    assert.deepEqual(await statuses(url, 2, { 'x-user-id': 'alice' }), [200, 429])
    assert.deepEqual(await statuses(url, 1, { 'x-user-id': 'bob' }), [200])
    const refused = await fetch(url, { headers: { 'x-user-id': 'bob' } })
    assert.equal(refused.status, 429)
    const body = (await refused.json()) as { code: string; key: string; retryAfter: number; limit: number }
    assert.deepEqual({ ...body, retryAfter: body.retryAfter > 0 }, { code: 'slow_down', key: 'user:bob', retryAfter: true, limit: 1 })
    assert.deepEqual(exceeded, ['user:alice', 'user:bob'])
  })

  it('lets allowList (array or function) and skip through uncounted', async () => {
    const url = await started(async (f) => {
      await f.register(tollgatePlugin, {
        limit: 1,
        window: '1m',
        keyGenerator: (request) => String(request.headers['x-user-id']),
        allowList: ['admin'],
        skip: (request) => request.url === '/health',
      })
      f.get('/', async () => 'ok')
      f.get('/health', async () => 'up')
      f.get('/fn', { config: { rateLimit: { limit: 1, allowList: (_request, key) => key.startsWith('svc-') } } }, async () => 'fn')
    })
    assert.deepEqual(await statuses(url, 3, { 'x-user-id': 'admin' }), [200, 200, 200])
    assert.deepEqual(await statuses(`${url}/health`, 3, { 'x-user-id': 'carol' }), [200, 200, 200])
    assert.deepEqual(await statuses(url, 2, { 'x-user-id': 'carol' }), [200, 429], 'skipped requests did not use up her quota')
    assert.deepEqual(await statuses(`${url}/fn`, 3, { 'x-user-id': 'svc-billing' }), [200, 200, 200])
    assert.deepEqual(await statuses(`${url}/fn`, 2, { 'x-user-id': 'dave' }), [200, 429])
  })

  it('counts IPv6 clients per /64 and IPv4 clients per address', async () => {
    const url = await started(
      async (f) => {
        await f.register(tollgatePlugin, { limit: 2, window: '1m' })
        f.get('/', async () => 'ok')
      },
      { trustProxy: true },
    )
    const from = (ip: string) => ({ 'x-forwarded-for': ip })
    assert.deepEqual(await statuses(url, 1, from('2001:db8:1:2::1')), [200])
    assert.deepEqual(await statuses(url, 1, from('2001:db8:1:2:ffff:ffff:ffff:fffe')), [200])
    assert.deepEqual(await statuses(url, 1, from('2001:db8:1:2:abcd::9')), [429], 'a third address of the same /64 is the same client')
    assert.deepEqual(await statuses(url, 2, from('2001:db8:1:3::1')), [200, 200], 'the next /64 is another client')
    assert.deepEqual(await statuses(url, 2, from('198.51.100.7')), [200, 200])
    assert.deepEqual(await statuses(url, 1, from('198.51.100.8')), [200], 'IPv4 neighbours are not grouped')
  })

  it('keys on request.user.id when an authentication hook set it, before the address', async () => {
    const url = await started(async (f) => {
      f.decorateRequest('user', null)
      f.addHook('onRequest', async (request) => {
        const id = request.headers['x-user-id']
        if (typeof id === 'string') (request as unknown as { user: { id: string } }).user = { id }
      })
      await f.register(tollgatePlugin, { limit: 1, window: '1m' })
      f.get('/', async () => 'ok')
    })
    assert.deepEqual(await statuses(url, 2, { 'x-user-id': 'erin' }), [200, 429])
    assert.deepEqual(await statuses(url, 1, { 'x-user-id': 'frank' }), [200], 'same address, another user')
  })
})

describe('the Fastify plugin, other header forms and hooks', () => {
  it('sends draft-7 and the legacy x-ratelimit-* headers (reset in seconds from now) when asked', async () => {
    const url = await started(async (f) => {
      await f.register(tollgatePlugin, { limit: 3, window: '30s', standardHeaders: 'draft-7', legacyHeaders: true })
      f.get('/', async () => 'ok')
    })
    const response = await fetch(url)
    await response.arrayBuffer()
    assert.match(response.headers.get('ratelimit') ?? '', /^limit=3, remaining=2, reset=\d+$/)
    assert.equal(response.headers.get('ratelimit-policy'), '3;w=30')
    assert.equal(response.headers.get('x-ratelimit-limit'), '3')
    assert.equal(response.headers.get('x-ratelimit-remaining'), '2')
    const reset = Number(response.headers.get('x-ratelimit-reset'))
    assert.ok(reset > 0 && reset <= 60, 'seconds from now, not a Unix time')
  })

  it("with hook: 'preHandler', limits after the app's authentication in preHandler", async () => {
    const url = await started(async (f) => {
      f.decorateRequest('user', null)
      f.addHook('preHandler', async (request) => {
        ;(request as unknown as { user: { id: string } }).user = { id: String(request.headers['x-user-id']) }
      })
      await f.register(tollgatePlugin, { limit: 1, window: '1m', hook: 'preHandler' })
      f.get('/', async () => 'ok')
    })
    assert.deepEqual(await statuses(url, 2, { 'x-user-id': 'gail' }), [200, 429])
    assert.deepEqual(await statuses(url, 1, { 'x-user-id': 'hank' }), [200], 'keyed on the user the preHandler set, not the address')
  })
})
