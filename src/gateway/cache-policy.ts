import { createHash } from 'node:crypto'
import { cacheDirectives, samplesMany } from '../calls/cache-controls.js'
import type { CachePolicy, Caller } from '../calls/types.js'
import { DEFAULTS } from '../core/defaults.js'
import type { GatewayConfig } from './config.js'
import { badRequest } from './openai-errors.js'

type Headers = Record<string, string | string[] | undefined>

const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value.join(',') : value
}

/** Longest cache namespace the cache accepts; a longer composition is shortened to a digest. */
const MAX_NAMESPACE = 128
const digest = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length)

/**
 * The cache namespace of a request: the tenant's, with the request's own namespace under it. A
 * namespace the config shares (`cache.sharedNamespaces`) is the same for every tenant. Layout:
 * `t/{tenant}[/{namespace}]`, or `shared/{namespace}`.
 */
export function cacheNamespace(config: GatewayConfig, tenant: string, requested: string | undefined): string {
  if (requested && config.cache.sharedNamespaces.includes(requested)) return `shared/${requested}`
  const base = `t/${tenant}`
  const tail = requested ? `/${requested}` : ''
  return base.length + tail.length <= MAX_NAMESPACE ? base + tail : `${base}/~${digest(tail, 32)}`
}

/**
 * Who inside a tenant's namespace shares entries, by `cache.scope`: everyone (`tenant`), each end
 * user (`user`, hashed: user ids are free text; requests without one share `u.-`), or each gateway key
 * (`key`). It goes into the entry's key, not its namespace, so that a tag invalidation or a clear of
 * the tenant's namespace reaches every user's and key's entries. A shared namespace has none.
 */
export function cachePartition(config: GatewayConfig, caller: Caller, user: string | undefined, namespace: string): string | undefined {
  if (namespace.startsWith('shared/')) return undefined
  const scope = config.cache.scope
  return scope === 'user' ? `u.${user === undefined ? '-' : digest(user, 24)}` : scope === 'key' ? `k.${caller.key}` : undefined
}

/**
 * Reads the per-request cache controls: `Cache-Control: no-cache` (don't read, do write), `no-store`
 * (neither), `max-age=N`; `x-tollgate-cache-ttl` (seconds), `x-tollgate-cache-namespace`,
 * `x-tollgate-cache-tags` (comma-separated). Requests sampling several different answers (`n > 1` with
 * a temperature other than 0) bypass the cache: replaying one set would defeat their purpose.
 */
export function cachePolicy(config: GatewayConfig, caller: Caller, user: string | undefined, headers: Headers, body: Record<string, unknown>): CachePolicy {
  const directives = cacheDirectives(header(headers, 'cache-control'))
  const policy: CachePolicy = { read: true, write: true, ttlMs: config.cache.ttl, namespace: '', tags: [] }
  if (directives.maxAgeMs !== undefined) policy.maxAgeMs = directives.maxAgeMs
  const ttl = header(headers, 'x-tollgate-cache-ttl')
  if (ttl !== undefined) {
    const maxSeconds = Math.floor((DEFAULTS.cache.maxTtlMs - config.cache.grace) / 1000)
    if (!/^\d{1,9}$/.test(ttl.trim()) || Number(ttl) === 0 || Number(ttl) > maxSeconds) {
      throw badRequest(`x-tollgate-cache-ttl must be a whole number of seconds from 1 to ${maxSeconds}`, 'x-tollgate-cache-ttl')
    }
    policy.ttlMs = Number(ttl) * 1000
  }
  const requested = header(headers, 'x-tollgate-cache-namespace')?.trim()
  if (requested && !/^[\w.-]{1,64}$/.test(requested)) throw badRequest('x-tollgate-cache-namespace must be 1 to 64 letters, digits, _ . -', 'x-tollgate-cache-namespace')
  policy.namespace = cacheNamespace(config, caller.tenant, requested || undefined)
  policy.partition = cachePartition(config, caller, user, policy.namespace)
  const tags = header(headers, 'x-tollgate-cache-tags')
  if (tags) {
    policy.tags = tags.split(',').map((t) => t.trim()).filter(Boolean)
    if (policy.tags.length > 32 || policy.tags.some((t) => t.length > 200)) throw badRequest('x-tollgate-cache-tags takes at most 32 comma-separated tags of 200 characters', 'x-tollgate-cache-tags')
  }
  if (!config.cache.enabled) return { ...policy, read: false, write: false, bypass: 'cache disabled' }
  if (directives.noStore) return { ...policy, read: false, write: false, bypass: 'no-store' }
  if (samplesMany(body)) return { ...policy, read: false, write: false, bypass: 'n > 1 with temperature != 0' }
  if (directives.noCache) policy.read = false
  return policy
}
