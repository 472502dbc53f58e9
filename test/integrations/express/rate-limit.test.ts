import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Request } from 'express'
import { type RateLimitInfo, rateLimit } from '../../../src/integrations/express/index.js'
import { listen, statuses, versions } from './helpers.js'

const cleanups: Array<() => Promise<unknown>> = []
after(async () => {
  for (const cleanup of cleanups) await cleanup()
})

for (const [version, express] of versions) {
  async function serve(setup: (app: ReturnType<typeof express>) => void, trustProxy = false): Promise<string> {
    const app = express()
    if (trustProxy) app.set('trust proxy', true)
    setup(app)
    const server = await listen(app)
    cleanups.push(server.close)
    return server.url
  }
  function limiter(options: Parameters<typeof rateLimit>[0]) {
    const middleware = rateLimit(options)
    cleanups.push(middleware.close)
    return middleware
  }

  describe(`${version}: rateLimit()`, () => {
    it('refuses past the limit with 429, a JSON detail, Retry-After and draft-8 headers; req.rateLimit holds the state', async () => {
      const seen: RateLimitInfo[] = []
      const url = await serve((app) => {
        app.use(limiter({ limit: 2, windowMs: 60_000 }))
        app.get('/', (req, res) => {
          seen.push((req as Request & { rateLimit: RateLimitInfo }).rateLimit)
          res.send('ok')
        })
      })
      assert.deepEqual(await statuses(url, 2), [200, 200])
      assert.deepEqual(seen.map((info) => [info.limit, info.used, info.remaining]), [[2, 1, 1], [2, 2, 0]])
      assert.ok(seen[0]?.resetTime instanceof Date)
      assert.match(seen[0]?.key ?? '', /^ip:127\.0\.0\.1$/)
      const refused = await fetch(url)
      assert.equal(refused.status, 429)
      assert.deepEqual(Object.keys((await refused.json()) as object), ['statusCode', 'error', 'message'])
      assert.ok(Number(refused.headers.get('retry-after')) >= 1)
      assert.equal(refused.headers.get('ratelimit-policy'), '"requests";q=2;w=60')
      assert.match(refused.headers.get('ratelimit') ?? '', /^"requests";r=0;t=\d+$/)
      assert.equal(refused.headers.get('x-ratelimit-limit'), null)
    })

    it('sends each draft of the headers, and the legacy ones with a Unix reset time', async () => {
      const url = await serve((app) => {
        app.get('/d6', limiter({ limit: 5, windowMs: '10s', standardHeaders: 'draft-6' }), (_req, res) => res.send('6'))
        app.get('/d7', limiter({ limit: 5, windowMs: '10s', standardHeaders: 'draft-7' }), (_req, res) => res.send('7'))
        app.get('/true', limiter({ limit: 5, windowMs: '10s', standardHeaders: true }), (_req, res) => res.send('t'))
        app.get('/legacy', limiter({ limit: 5, windowMs: '10s', standardHeaders: false, legacyHeaders: true }), (_req, res) => res.send('l'))
        app.get('/rules', limiter({ rules: [{ name: 'burst', limit: 2, window: '1s' }, { name: 'hourly', limit: 100, window: '1h' }] }), (_req, res) => res.send('r'))
      })
      const d6 = await fetch(`${url}/d6`)
      assert.equal(d6.headers.get('ratelimit-limit'), '5')
      assert.equal(d6.headers.get('ratelimit-remaining'), '4')
      assert.match(d6.headers.get('ratelimit-reset') ?? '', /^\d+$/)
      assert.equal(d6.headers.get('ratelimit-policy'), '5;w=10')
      assert.equal(d6.headers.get('ratelimit'), null)
      const d7 = await fetch(`${url}/d7`)
      assert.match(d7.headers.get('ratelimit') ?? '', /^limit=5, remaining=4, reset=\d+$/)
      assert.equal(d7.headers.get('ratelimit-policy'), '5;w=10')
      assert.equal((await fetch(`${url}/true`)).headers.get('ratelimit-limit'), '5', 'true means draft-6, as in express-rate-limit')
      const legacy = await fetch(`${url}/legacy`)
      assert.equal(legacy.headers.get('ratelimit'), null)
      assert.equal(legacy.headers.get('x-ratelimit-limit'), '5')
      assert.equal(legacy.headers.get('x-ratelimit-remaining'), '4')
      const reset = Number(legacy.headers.get('x-ratelimit-reset'))
      assert.ok(reset > Date.now() / 1000 && reset < Date.now() / 1000 + 60, 'a Unix time in seconds')
      const rules = await fetch(`${url}/rules`)
      assert.equal(rules.headers.get('ratelimit-policy'), '"burst";q=2;w=1, "hourly";q=100;w=3600')
      assert.match(rules.headers.get('ratelimit') ?? '', /^"burst";r=1;t=\d+, "hourly";r=99;t=\d+$/)
    })

    it('counts per X-User-ID with keyGenerator; skip and allowList let requests through uncounted', async () => {
      const url = await serve((app) => {
        app.use(limiter({ limit: 1, windowMs: 60_000, keyGenerator: (req) => String(req.headers['x-user-id']), skip: (req) => req.path === '/health', allowList: ['root'] }))
        app.get('/', (_req, res) => res.send('ok'))
        app.get('/health', (_req, res) => res.send('up'))
      })
      assert.deepEqual(await statuses(`${url}/health`, 3, { 'x-user-id': 'ann' }), [200, 200, 200])
      assert.deepEqual(await statuses(url, 2, { 'x-user-id': 'ann' }), [200, 429])
      assert.deepEqual(await statuses(url, 1, { 'x-user-id': 'ben' }), [200])
      assert.deepEqual(await statuses(url, 3, { 'x-user-id': 'root' }), [200, 200, 200])
    })

    it('answers with handler, or with message and statusCode', async () => {
      const url = await serve((app) => {
        app.get('/handler', limiter({ limit: 1, handler: (_req, res, _next, info) => res.status(503).json({ wait: info.decision.retryAfterMs > 0, key: info.key }) }), (_req, res) => res.send('h'))
        app.get('/message', limiter({ limit: 1, message: 'slow down', statusCode: 420 }), (_req, res) => res.send('m'))
        app.get('/async', limiter({ limit: 1, handler: async () => Promise.reject(new Error('handler failed')) }), (_req, res) => res.send('a'))
        app.use((err: Error, _req: Request, res: import('express').Response, _next: import('express').NextFunction) => {
          res.status(500).send(err.message)
        })
      })
      await statuses(`${url}/handler`, 1)
      const handled = await fetch(`${url}/handler`)
      assert.equal(handled.status, 503)
      assert.deepEqual(await handled.json(), { wait: true, key: 'ip:127.0.0.1' })
      await statuses(`${url}/message`, 1)
      const message = await fetch(`${url}/message`)
      assert.equal(message.status, 420)
      assert.equal(await message.text(), 'slow down')
      await statuses(`${url}/async`, 1)
      const failed = await fetch(`${url}/async`)
      assert.equal(failed.status, 500)
      assert.equal(await failed.text(), 'handler failed', 'an async handler error reaches the error middleware')
    })

    it('counts IPv6 clients per /64', async () => {
      const url = await serve((app) => {
        app.use(limiter({ limit: 1 }))
        app.get('/', (_req, res) => res.send('ok'))
      }, true)
      assert.deepEqual(await statuses(url, 1, { 'x-forwarded-for': '2001:db8:aa:bb::1' }), [200])
      assert.deepEqual(await statuses(url, 1, { 'x-forwarded-for': '2001:db8:aa:bb:1:2:3:4' }), [429])
      assert.deepEqual(await statuses(url, 1, { 'x-forwarded-for': '2001:db8:aa:bc::1' }), [200])
    })

    it('resetKey forgets a client', async () => {
      const middleware = limiter({ limit: 1, keyGenerator: () => 'everyone' })
      const url = await serve((app) => app.get('/', middleware, (_req, res) => res.send('ok')))
      assert.deepEqual(await statuses(url, 2), [200, 429])
      await middleware.resetKey('everyone')
      assert.deepEqual(await statuses(url, 1), [200])
    })
  })
}

it('bad options throw E_INVALID_OPTION when the middleware is made', () => {
  const cases: Array<[unknown, string]> = [
    [{ limit: 0 }, 'limit'],
    [{ windowMs: -5 }, 'windowMs'],
    [{ max: 10 }, 'max'],
    [{ window: '1m' }, 'window'],
    [{ standardHeaders: 'draft-5' }, 'standardHeaders'],
    [{ statusCode: 200 }, 'statusCode'],
    [{ handler: 'json' }, 'handler'],
    [{ requestPropertyName: 'rate limit' }, 'requestPropertyName'],
    [{ rules: [{ limit: 1 }] }, 'rules.0.window'],
    [{ legacyheaders: true }, 'legacyheaders'],
  ]
  for (const [options, option] of cases) {
    assert.throws(() => rateLimit(options as never), (err: { code: string; option: string }) => err.code === 'E_INVALID_OPTION' && err.option === option, JSON.stringify(options))
  }
})
