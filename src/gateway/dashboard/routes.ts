import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * The files `GET /dashboard/assets/:file` serves, and nothing else: the page's own scripts and style,
 * and uPlot's, which `scripts/copy-assets.mjs` copies next to this module at build time.
 */
const ASSET_TYPES = new Map<string, string>([
  ['dashboard.css', 'text/css; charset=utf-8'],
  ['main.js', 'text/javascript; charset=utf-8'],
  ['token.js', 'text/javascript; charset=utf-8'],
  ['samples.js', 'text/javascript; charset=utf-8'],
  ['charts.js', 'text/javascript; charset=utf-8'],
  ['panels.js', 'text/javascript; charset=utf-8'],
  ['format.js', 'text/javascript; charset=utf-8'],
  ['favicon.svg', 'image/svg+xml'],
  ['uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
  ['uPlot.min.css', 'text/css; charset=utf-8'],
])

/**
 * Scripts and styles from this origin only, no inline script or style element, and data only from
 * this origin's admin API: a string from the API that slipped into markup could not run.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const OFF_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>tollgate dashboard</title></head>
<body><h1>tollgate dashboard is off</h1><p>No admin token is configured. Set <code>admin.token</code> in tollgate.yaml (or the <code>TOLLGATE_ADMIN_TOKEN</code> environment variable) and restart the gateway.</p></body></html>
`

interface Asset {
  body: Buffer
  type: string
  etag: string
}

export interface DashboardOptions {
  /** Whether an admin token is configured: without one the admin API is off and the page answers 404 saying so. */
  enabled: boolean
}

/**
 * Registers `GET /dashboard` (the page) and `GET /dashboard/assets/:file` (its scripts, styles and
 * uPlot). The page is public, it holds no data: everything it shows comes from `GET /admin/stats`
 * with the admin token the user enters. The files are read once here, never per request.
 */
export function registerDashboard(app: FastifyInstance, options: DashboardOptions): void {
  if (!options.enabled) {
    app.get('/dashboard', (_request, reply) => {
      void secured(reply).status(404).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(OFF_PAGE)
    })
    return
  }
  const page = load('dashboard.html', 'text/html; charset=utf-8')
  const assets = new Map([...ASSET_TYPES].map(([name, type]) => [name, load(name, type)]))
  app.get('/dashboard', (request, reply) => send(request, reply, page))
  app.get<{ Params: { file: string } }>('/dashboard/assets/:file', (request, reply) => {
    const asset = assets.get(request.params.file)
    if (asset) send(request, reply, asset)
    else reply.callNotFound()
  })
}

function load(name: string, type: string): Asset {
  const url = new URL(`./${name}`, import.meta.url)
  let body: Buffer
  try {
    body = readFileSync(url)
  } catch (err) {
    throw new Error(`The dashboard file ${url.pathname} is missing: the build copies it there (scripts/copy-assets.mjs)`, { cause: err })
  }
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
}

/**
 * Every answer is revalidated (`no-cache`) against its ETag: the names carry no version, so after an
 * upgrade a browser must not run yesterday's script against today's API; a 304 costs next to nothing.
 */
function send(request: FastifyRequest, reply: FastifyReply, asset: Asset): void {
  secured(reply).header('cache-control', 'no-cache').header('etag', asset.etag)
  if (request.headers['if-none-match'] === asset.etag) void reply.status(304).send()
  else void reply.type(asset.type).send(asset.body)
}

function secured(reply: FastifyReply): FastifyReply {
  return reply.headers({
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  })
}
