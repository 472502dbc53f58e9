import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { registerDashboard } from '../../src/gateway/dashboard/routes.js'

describe('dashboard routes', () => {
  describe('with an admin token configured', () => {
    let app: FastifyInstance
    before(() => {
      app = Fastify()
      registerDashboard(app, { enabled: true })
    })
    after(() => app.close())

    it('serves the page with a CSP that allows no inline script, and loads only local files', async () => {
      const page = await app.inject({ method: 'GET', url: '/dashboard' })
      assert.equal(page.statusCode, 200)
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
      const csp = String(page.headers['content-security-policy'])
      assert.match(csp, /default-src 'none'/)
      assert.match(csp, /script-src 'self'(;|$)/)
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/)
      assert.equal(page.headers['x-content-type-options'], 'nosniff')
      assert.equal(page.headers['cache-control'], 'no-cache')
      // Every script and style is one of ours, by a relative URL: no CDN, no inline code.
      const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1])
      assert.ok(sources.length >= 5)
      for (const source of sources) assert.match(source ?? '', /^dashboard\/assets\/[\w.]+$/)
      assert.doesNotMatch(page.body, /<script>|<script [^>]*>[^<]|<style|style="|\son\w+="/)
    })

    it('serves the allow-listed assets, uPlot included, with their content types', async () => {
      const expected: Record<string, string> = {
        'main.js': 'text/javascript; charset=utf-8',
        'charts.js': 'text/javascript; charset=utf-8',
        'dashboard.css': 'text/css; charset=utf-8',
        'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
        'uPlot.min.css': 'text/css; charset=utf-8',
        'favicon.svg': 'image/svg+xml',
      }
      for (const [file, type] of Object.entries(expected)) {
        const reply = await app.inject({ method: 'GET', url: `/dashboard/assets/${file}` })
        assert.equal(reply.statusCode, 200, file)
        assert.equal(reply.headers['content-type'], type, file)
        assert.ok(reply.body.length > 0, file)
        assert.ok(reply.headers['content-security-policy'], file)
      }
      const uplot = await app.inject({ method: 'GET', url: '/dashboard/assets/uPlot.iife.min.js' })
      assert.match(uplot.body, /uPlot/)
    })

    it('every module the page imports is on the allow-list', async () => {
      const main = await app.inject({ method: 'GET', url: '/dashboard/assets/main.js' })
      const seen = new Set<string>()
      const pending = ['main.js']
      for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
        if (seen.has(file)) continue
        seen.add(file)
        const reply = file === 'main.js' ? main : await app.inject({ method: 'GET', url: `/dashboard/assets/${file}` })
        assert.equal(reply.statusCode, 200, file)
        for (const match of reply.body.matchAll(/from '\.\/([\w.-]+)'/g)) pending.push(match[1] as string)
      }
      assert.ok(seen.size >= 5)
    })

    it('refuses any other file: the compiled routes, the folder, paths out of it', async () => {
      for (const url of ['/dashboard/assets/routes.js', '/dashboard/assets/dashboard.html', '/dashboard/assets/', '/dashboard/assets/..%2froutes.js', '/dashboard/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/dashboard/assets/__proto__']) {
        const reply = await app.inject({ method: 'GET', url })
        assert.equal(reply.statusCode, 404, url)
      }
    })

    it('answers 304 to a revalidation with the same ETag', async () => {
      const first = await app.inject({ method: 'GET', url: '/dashboard/assets/main.js' })
      const etag = String(first.headers.etag)
      assert.match(etag, /^"[\w-]+"$/)
      const again = await app.inject({ method: 'GET', url: '/dashboard/assets/main.js', headers: { 'if-none-match': etag } })
      assert.equal(again.statusCode, 304)
      assert.equal(again.body, '')
    })
  })

  describe('without an admin token', () => {
    let app: FastifyInstance
    before(() => {
      app = Fastify()
      registerDashboard(app, { enabled: false })
    })
    after(() => app.close())

    it('answers 404 with a page saying how to turn it on, and serves no assets', async () => {
      const page = await app.inject({ method: 'GET', url: '/dashboard' })
      assert.equal(page.statusCode, 404)
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
      assert.match(page.body, /admin\.token/)
      assert.match(page.body, /TOLLGATE_ADMIN_TOKEN/)
      const asset = await app.inject({ method: 'GET', url: '/dashboard/assets/main.js' })
      assert.equal(asset.statusCode, 404)
    })
  })
})
