import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Cache, createCache } from '../../../src/index.js'
import { cache, session } from '../../../src/integrations/express/index.js'
import { useRedisSessions } from '../http-helpers.js'
import { listen, versions } from './helpers.js'

const env = useRedisSessions()

/** Polls until the response cached after the reply went out is served; the write does not delay the reply. */
async function untilHit(url: string, headers: Record<string, string> = {}): Promise<Response> {
  for (let i = 0; i < 500; i++) {
    const response = await fetch(url, { headers })
    if (response.headers.get('x-cache') === 'HIT') return response
    await response.arrayBuffer()
  }
  throw new Error(`${url} was never served from the cache`)
}

for (const [version, express] of versions) {
  describe(`${version}: cache() and session()`, () => {
    let responses: Cache
    let server: { url: string; close: () => Promise<void> }
    let n = 0
    before(async () => {
      responses = createCache({ store: env.store, namespace: `http-${version.replace(' ', '')}` })
      const app = express()
      app.use(cache({ cache: responses, vary: ['accept-language'] }))
      app.get('/json', (_req, res) => res.json({ n: ++n }))
      app.get('/text', (_req, res) => res.type('text/plain').send(`text ${++n}`))
      app.get('/private', (_req, res) => res.set('Cache-Control', 'private').json({ n: ++n }))
      app.get('/missing', (_req, res) => res.status(404).json({ n: ++n }))
      app.post('/json', (_req, res) => res.json({ n: ++n }))
      server = await listen(app)
    })
    after(async () => {
      await server.close()
      await responses.close()
    })

    it('serves GET responses from the cache (JSON and text), varying on what the key uses', async () => {
      const first = await fetch(`${server.url}/json`, { headers: { 'accept-language': 'en' } })
      assert.equal(first.headers.get('x-cache'), 'MISS')
      assert.equal(first.headers.get('vary'), 'accept-language')
      const body = await first.json()
      const hit = await untilHit(`${server.url}/json`, { 'accept-language': 'en' })
      assert.deepEqual(await hit.json(), body)
      assert.equal(hit.headers.get('content-type'), 'application/json; charset=utf-8')
      assert.equal(hit.headers.get('vary'), 'accept-language')
      const other = await fetch(`${server.url}/json`, { headers: { 'accept-language': 'de' } })
      assert.equal(other.headers.get('x-cache'), 'MISS')
      assert.notDeepEqual(await other.json(), body)
      const text = await (await fetch(`${server.url}/text`)).text()
      assert.equal(await (await untilHit(`${server.url}/text`)).text(), text)
    })

    it('does not cache POST, non-200 or private responses, and bypasses no-store requests', async () => {
      const post = await fetch(`${server.url}/json`, { method: 'POST' })
      assert.equal(post.headers.get('x-cache'), 'BYPASS')
      await post.arrayBuffer()
      for (const path of ['/missing', '/private']) {
        const first = (await (await fetch(`${server.url}${path}`)).json()) as { n: number }
        const second = (await (await fetch(`${server.url}${path}`)).json()) as { n: number }
        assert.ok(second.n > first.n, path)
      }
      // Writes start in reply order: once a later cacheable reply is served from the cache, a write of
      // the earlier ones would have landed too, and they would now be hits.
      await (await untilHit(`${server.url}/json?probe=1`)).arrayBuffer()
      for (const path of ['/missing', '/private']) {
        const again = await fetch(`${server.url}${path}`)
        await again.arrayBuffer()
        assert.notEqual(again.headers.get('x-cache'), 'HIT', path)
      }
      const bypass = await fetch(`${server.url}/json`, { headers: { 'accept-language': 'en', 'cache-control': 'no-store' } })
      assert.equal(bypass.headers.get('x-cache'), 'BYPASS')
      await bypass.arrayBuffer()
    })
  })

  describe(`${version}: session()`, () => {
    it('round-trips a session through its cookie and loses no concurrent update', async () => {
      const middleware = session({ sessionStore: env.sessionStore })
      const app = express()
      app.use(middleware)
      app.post('/count', async (req, res, next) => {
        try {
          res.json(await req.session.update((s) => ({ n: Number(s?.n ?? 0) + 1 })))
        } catch (err) {
          next(err)
        }
      })
      const server = await listen(app)
      try {
        const first = await fetch(`${server.url}/count`, { method: 'POST' })
        assert.deepEqual(await first.json(), { n: 1 })
        assert.match(first.headers.get('set-cookie') ?? '', /^sid=[\w-]{32}; Path=\/; HttpOnly; SameSite=Lax$/)
        const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] as string
        await Promise.all(Array.from({ length: 20 }, () => fetch(`${server.url}/count`, { method: 'POST', headers: { cookie } }).then((r) => r.arrayBuffer())))
        const last = await fetch(`${server.url}/count`, { method: 'POST', headers: { cookie } })
        assert.deepEqual(await last.json(), { n: 22 })
        assert.equal(last.headers.get('set-cookie'), null)
      } finally {
        await server.close()
        await middleware.close()
      }
    })
  })
}
