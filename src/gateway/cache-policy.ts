import type { GatewayConfig } from './config.js'
import { badRequest } from './openai-errors.js'

/** What the cache may do for one request. */
export interface CachePolicy {
  read: boolean
  write: boolean
  /** Why neither (reported as BYPASS). */
  bypass?: string
  ttlMs: number
  /** `Cache-Control: max-age=N`: a hit older than this is not good enough. */
  maxAgeMs?: number
  /** Namespace under the tenant's (or a shared one from the config). */
  namespace: string
  tags: string[]
}

type Headers = Record<string, string | string[] | undefined>

const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value.join(',') : value
}

/**
 * Reads the per-request cache controls: `Cache-Control: no-cache` (don't read, do write), `no-store`
 * (neither), `max-age=N`; `x-tollgate-cache-ttl` (seconds), `x-tollgate-cache-namespace`,
 * `x-tollgate-cache-tags` (comma-separated). Requests sampling several different answers (`n > 1` with
 * a temperature other than 0) bypass the cache: replaying one set would defeat their purpose.
 */
export function cachePolicy(config: GatewayConfig, tenant: string, headers: Headers, body: Record<string, unknown>): CachePolicy {
  const control = (header(headers, 'cache-control') ?? '').toLowerCase()
  const directives = new Set(control.split(',').map((d) => d.trim()))
  const policy: CachePolicy = { read: true, write: true, ttlMs: config.cache.ttl, namespace: `t/${tenant}`, tags: [] }
  const maxAge = /max-age=(\d+)/.exec(control)?.[1]
  if (maxAge !== undefined) policy.maxAgeMs = Number(maxAge) * 1000
  const ttl = header(headers, 'x-tollgate-cache-ttl')
  if (ttl !== undefined) {
    if (!/^\d{1,9}$/.test(ttl.trim()) || Number(ttl) === 0) throw badRequest('x-tollgate-cache-ttl must be a whole number of seconds greater than 0', 'x-tollgate-cache-ttl')
    policy.ttlMs = Number(ttl) * 1000
  }
  const namespace = header(headers, 'x-tollgate-cache-namespace')?.trim()
  if (namespace) {
    if (!/^[\w.-]{1,64}$/.test(namespace)) throw badRequest('x-tollgate-cache-namespace must be 1 to 64 letters, digits, _ . -', 'x-tollgate-cache-namespace')
    policy.namespace = config.cache.sharedNamespaces.includes(namespace) ? `shared/${namespace}` : `t/${tenant}/${namespace}`
  }
  const tags = header(headers, 'x-tollgate-cache-tags')
  if (tags) {
    policy.tags = tags.split(',').map((t) => t.trim()).filter(Boolean)
    if (policy.tags.length > 32 || policy.tags.some((t) => t.length > 200)) throw badRequest('x-tollgate-cache-tags takes at most 32 comma-separated tags of 200 characters', 'x-tollgate-cache-tags')
  }
  const n = typeof body.n === 'number' ? body.n : 1
  const temperature = typeof body.temperature === 'number' ? body.temperature : 1
  if (!config.cache.enabled) return { ...policy, read: false, write: false, bypass: 'cache disabled' }
  if (directives.has('no-store')) return { ...policy, read: false, write: false, bypass: 'no-store' }
  if (n > 1 && temperature !== 0) return { ...policy, read: false, write: false, bypass: 'n > 1 with temperature != 0' }
  if (directives.has('no-cache')) policy.read = false
  return policy
}
