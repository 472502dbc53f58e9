import type { FastifyInstance, FastifyRequest } from 'fastify'
import { countJsonValues } from '../../core/json-size.js'
import { z } from 'zod'
import type { Cache } from '../../cache/cache.js'
import type { CallLimits } from '../../calls/limits.js'
import type { Caller } from '../../calls/types.js'
import type { SessionStore } from '../../sessions/session-store.js'
import { ANONYMOUS } from '../auth.js'
import { cacheNamespace } from '../cache-policy.js'
import type { GatewayConfig } from '../config.js'
import { badRequest, GatewayHttpError } from '../openai-errors.js'
import { tooDeep } from '../../core/json-size.js'
import type { AdminStats } from './admin-stats.js'
import { AdminToken } from './admin-token.js'
import { mergePatch } from './merge-patch.js'

export interface AdminDeps {
  config: GatewayConfig
  cache: Cache
  limits: CallLimits
  sessions: SessionStore<unknown>
  stats: () => Promise<AdminStats>
}

const text = z.string().min(1).max(256)
const invalidateBody = z
  .object({
    tenant: z.string().regex(/^[\w.-]{1,64}$/).optional(),
    allTenants: z.literal(true).optional(),
    namespace: z.string().regex(/^[\w.-]{1,64}$/).optional(),
    tags: z.array(z.string().min(1).max(200)).min(1).max(64).optional(),
    keys: z.array(z.string().regex(/^[0-9a-f]{64}$/, { message: 'cache keys as the x-tollgate-cache-key header shows them (64 hex digits)' })).min(1).max(1_000).optional(),
    clear: z.literal(true).optional(),
  })
  .strict()
const resetBody = z.object({ key: z.string().regex(/^[\w.-]{1,64}$/).optional(), tenant: z.string().regex(/^[\w.-]{1,64}$/).optional(), user: text.optional(), model: text.optional() }).strict()

/**
 * Session ids as `createSessionId` makes them, or any id a service picked within these bounds (100:
 * the longest path parameter Fastify's router takes by default).
 */
const SESSION_ID = /^[\w.:-]{1,100}$/
const MERGE_PATCH = 'application/merge-patch+json'

/**
 * The admin API under `/admin/`: stats, cache invalidation (every instance, through the bus), the
 * session store for services in other languages, and rate-limit resets. Every route needs the admin
 * token; without one configured the routes do not exist.
 */
export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  const { token } = deps.config.admin
  if (!token) return
  const admin = new AdminToken(token)
  const { maxJsonValues, maxJsonDepth } = deps.config.server
  void app.register(async (scope) => {
    scope.addHook('onRequest', (request, _reply, done) => {
      try {
        admin.check(request.headers.authorization)
        done()
      } catch (err) {
        done(err as Error)
      }
    })
    // RFC 7396's own media type, under the bounds of every JSON body.
    const parseJson = scope.getDefaultJsonParser('error', 'error')
    scope.addContentTypeParser(MERGE_PATCH, { parseAs: 'string' }, (request, body, done) => {
      if (countJsonValues(body as string, maxJsonValues) <= maxJsonValues) return parseJson(request, body as string, done)
      done(new GatewayHttpError(400, `The request body holds more than ${maxJsonValues} JSON values (server.maxJsonValues).`, { code: 'request_too_complex' }), undefined)
    })
    // After the token: a wrong path or method under /admin/ tells a caller without it nothing.
    scope.all('/admin/*', (request) => {
      throw new GatewayHttpError(404, `Unknown admin route: ${request.method} ${request.url.split('?')[0]}`, { code: 'not_found' })
    })
    scope.get('/admin/stats', () => deps.stats())
    scope.post('/admin/cache/invalidate', (request) => invalidate(deps, parse(invalidateBody, jsonBody(request, maxJsonDepth))))
    scope.post('/admin/ratelimit/reset', (request) => reset(deps, parse(resetBody, jsonBody(request, maxJsonDepth))))
    scope.get('/admin/sessions/:id', async (request) => {
      const value = await storeCall(() => deps.sessions.get(sessionId(request)))
      if (value === undefined) throw new GatewayHttpError(404, 'No such session.', { code: 'session_not_found' })
      return { id: sessionId(request), value }
    })
    scope.put('/admin/sessions/:id', async (request, reply) => {
      const id = sessionId(request)
      const ttl = ttlOf(request)
      await storeCall(() => deps.sessions.set(id, jsonBody(request, maxJsonDepth), ttl === undefined ? {} : { ttl: ttl * 1000 }))
      return reply.status(200).send({ id, value: request.body })
    })
    scope.patch('/admin/sessions/:id', async (request) => {
      const id = sessionId(request)
      const patch = jsonBody(request, maxJsonDepth, MERGE_PATCH)
      const value = await storeCall(() =>
        deps.sessions.update(id, (current) => {
          if (current === undefined) throw new GatewayHttpError(404, 'No such session to patch (PUT creates one).', { code: 'session_not_found' })
          return mergePatch(current, patch)
        }),
      )
      return { id, value }
    })
    scope.delete('/admin/sessions/:id', async (request, reply) => {
      const deleted = await storeCall(() => deps.sessions.delete(sessionId(request)))
      if (!deleted) throw new GatewayHttpError(404, 'No such session.', { code: 'session_not_found' })
      return reply.status(204).send()
    })
  })
}

async function invalidate(deps: AdminDeps, body: z.output<typeof invalidateBody>): Promise<{ invalidated: Record<string, unknown> }> {
  const actions = [body.tags, body.keys, body.clear].filter((action) => action !== undefined).length
  if (actions > 1) throw badRequest('Say one thing to invalidate: tags, keys, or clear (a namespace alone clears it).')
  if (actions === 0 && body.namespace === undefined) throw badRequest('Say what to invalidate: tags, keys, namespace, or clear: true.')
  const namespaces = [...new Set(tenantsOf(deps.config, body).map((tenant) => cacheNamespace(deps.config, tenant, body.namespace)))]
  await storeCall(() =>
    Promise.all(
      namespaces.map((namespace) => {
        const cache = deps.cache.namespaced(namespace)
        if (body.tags) return cache.invalidateTags(body.tags)
        if (body.keys) return Promise.all(body.keys.map((key) => cache.delete(key)))
        return cache.clearNamespace()
      }),
    ),
  )
  return { invalidated: { namespaces, ...(body.tags ? { tags: body.tags } : body.keys ? { keys: body.keys } : { cleared: true }) } }
}

/**
 * The tenants whose namespace an invalidation covers: one, or every configured one. Their end users'
 * and keys' entries (`cache.scope: user | key`) live in the tenant's namespace, so they are covered too.
 */
function tenantsOf(config: GatewayConfig, body: z.output<typeof invalidateBody>): string[] {
  const tenants = config.auth === 'none' ? ['default'] : [...new Set(config.keys.map((key) => key.tenant))]
  if (body.allTenants) {
    if (body.tenant !== undefined) throw badRequest('Give tenant or allTenants, not both.')
    return tenants
  }
  const tenant = body.tenant ?? (tenants.length === 1 ? tenants[0] : undefined)
  if (tenant === undefined) throw badRequest(`Say whose cache: tenant (one of ${tenants.join(', ')}) or allTenants: true.`, 'tenant')
  if (!tenants.includes(tenant)) throw new GatewayHttpError(404, `No tenant ${tenant} in the config.`, { code: 'tenant_not_found', param: 'tenant' })
  return [tenant]
}

async function reset(deps: AdminDeps, body: z.output<typeof resetBody>): Promise<{ reset: Record<string, string> }> {
  const { config } = deps
  const configured = body.key === undefined ? undefined : config.keys.find((key) => key.name === body.key)
  if (body.key !== undefined && !configured && !(config.auth === 'none' && body.key === ANONYMOUS)) {
    throw new GatewayHttpError(404, `No gateway key named ${body.key}.`, { code: 'key_not_found', param: 'key' })
  }
  if (configured && body.tenant !== undefined && body.tenant !== configured.tenant) throw badRequest(`Key ${configured.name} belongs to tenant ${configured.tenant}, not ${body.tenant}.`, 'tenant')
  const callers: Caller[] = configured
    ? [{ tenant: configured.tenant, key: configured.name }]
    : config.auth === 'none'
      ? [{ tenant: 'default', key: ANONYMOUS }]
      : config.keys.filter((key) => key.tenant === body.tenant).map((key) => ({ tenant: key.tenant, key: key.name }))
  if (callers.length === 0) throw badRequest('Say whose limits: key (a gateway key name) or tenant.', 'key')
  const done = await storeCall(() => Promise.all(callers.map((caller) => deps.limits.reset(caller, body.model, body.user))))
  const reset = callers.filter((_, i) => done[i]).map((caller) => caller.key)
  if (reset.length === 0) throw new GatewayHttpError(404, 'No limits to reset: the config gives these keys none.', { code: 'no_limits' })
  return { reset: { keys: reset.join(','), ...(body.user ? { user: body.user } : {}), ...(body.model ? { model: body.model } : {}) } }
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const issue = result.error.issues[0] as z.core.$ZodIssue
  const field = [...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])].join('.')
  throw badRequest(`${field || 'body'}: ${issue.code === 'unrecognized_keys' ? 'no such field' : issue.message}`, field || undefined)
}

function sessionId(request: FastifyRequest): string {
  const { id } = request.params as { id: string }
  if (!SESSION_ID.test(id)) throw badRequest('A session id is 1 to 128 letters, digits, _ . : -', 'id')
  return id
}

function ttlOf(request: FastifyRequest): number | undefined {
  const { ttl } = request.query as { ttl?: string }
  if (ttl === undefined) return undefined
  if (!/^\d{1,9}$/.test(ttl) || Number(ttl) === 0) throw badRequest('ttl is a whole number of seconds from 1', 'ttl')
  return Number(ttl)
}

/** The request's JSON body, within `maxDepth` levels: any other media type is a 415, never taken as text. */
function jsonBody(request: FastifyRequest, maxDepth: number, alsoAccepted?: string): unknown {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json' && type !== alsoAccepted) {
    throw new GatewayHttpError(415, `Send a JSON body (Content-Type: application/json${alsoAccepted ? ` or ${alsoAccepted}` : ''}).`, { code: 'unsupported_media_type' })
  }
  if (tooDeep({ body: request.body }, maxDepth)) throw badRequest(`The body nests deeper than ${maxDepth} levels (server.maxJsonDepth).`)
  return request.body
}

/** A store that cannot answer is a 503 naming why, never a bare 500. */
async function storeCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    const code = (err as { code?: string }).code ?? ''
    if (code.startsWith('E_STORE') || code === 'E_SESSION_CONFLICT') {
      throw new GatewayHttpError(503, `The store could not complete it (${code}): ${(err as Error).message}`, { code: 'store_unavailable' })
    }
    if (code === 'E_INVALID_OPTION' || code === 'E_VALUE_TOO_LARGE') throw badRequest((err as Error).message)
    if (code === 'E_UNSUPPORTED_BY_STORE') throw new GatewayHttpError(501, (err as Error).message, { code: 'unsupported_by_store' })
    throw err
  }
}
