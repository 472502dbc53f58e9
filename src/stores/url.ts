import { InvalidOptionError } from '../core/errors.js'
import type { StoreKind } from './types.js'

export interface HostPort {
  host: string
  port: number
}

export interface StoreUrl {
  kind: StoreKind
  tls: boolean
  hosts: HostPort[]
  username?: string
  password?: string
  database?: number
  /** Sentinel only: the monitored master's name. */
  masterName?: string
  params: URLSearchParams
  /** The URL with credentials masked, for logs and error messages. */
  safe: string
}

const KINDS: Record<string, { kind: StoreKind; tls: boolean; defaultPort: number }> = {
  memory: { kind: 'memory', tls: false, defaultPort: 0 },
  redis: { kind: 'redis', tls: false, defaultPort: 6379 },
  rediss: { kind: 'redis', tls: true, defaultPort: 6379 },
  valkey: { kind: 'redis', tls: false, defaultPort: 6379 },
  valkeys: { kind: 'redis', tls: true, defaultPort: 6379 },
  'redis+cluster': { kind: 'redis-cluster', tls: false, defaultPort: 6379 },
  'rediss+cluster': { kind: 'redis-cluster', tls: true, defaultPort: 6379 },
  'valkey+cluster': { kind: 'redis-cluster', tls: false, defaultPort: 6379 },
  'redis+sentinel': { kind: 'redis-sentinel', tls: false, defaultPort: 26379 },
  'rediss+sentinel': { kind: 'redis-sentinel', tls: true, defaultPort: 26379 },
  'valkey+sentinel': { kind: 'redis-sentinel', tls: false, defaultPort: 26379 },
  memcached: { kind: 'memcached', tls: false, defaultPort: 11211 },
}

const EXPECTED =
  'a URL like memory://, redis://[user:pass@]host:port/db, rediss://, valkey://, ' +
  'redis+cluster://host:port,host:port, redis+sentinel://host:port,host:port/mastername or memcached://host:port'

/**
 * Parses a store URL. Hand-rolled rather than `new URL()` because cluster, sentinel and memcached URLs
 * list several `host:port` pairs, which WHATWG URL parsing rejects.
 */
export function parseStoreUrl(url: string, option = 'url'): StoreUrl {
  const match = /^([a-z+]+):\/\/(?:([^@/]*)@)?([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(url)
  const scheme = match?.[1]?.toLowerCase()
  const spec = scheme ? KINDS[scheme] : undefined
  if (!match || !spec) throw new InvalidOptionError(option, url, EXPECTED)
  const [, , userinfo, hostlist = '', path = '', query = ''] = match
  const params = new URLSearchParams(query)
  const result: StoreUrl = { kind: spec.kind, tls: spec.tls, hosts: [], params, safe: '' }
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':')
    const user = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon))
    if (user) result.username = user
    if (colon !== -1) result.password = decodeURIComponent(userinfo.slice(colon + 1))
  }
  if (spec.kind !== 'memory') {
    result.hosts = parseHosts(hostlist, spec.defaultPort, url, option)
    if (result.hosts.length > 1 && spec.kind === 'redis') {
      throw new InvalidOptionError(option, url, 'one host for redis:// (use redis+cluster:// or redis+sentinel:// for several)')
    }
  }
  if (spec.kind === 'redis' || spec.kind === 'redis-cluster') {
    if (path) result.database = parseDatabase(path, url, option)
  } else if (spec.kind === 'redis-sentinel') {
    const [masterName, db] = path.split('/')
    if (!masterName) throw new InvalidOptionError(option, url, 'the master name as the path: redis+sentinel://h:p,h:p/mymaster')
    result.masterName = decodeURIComponent(masterName)
    if (db) result.database = parseDatabase(db, url, option)
  }
  if (result.database !== undefined && result.database !== 0 && spec.kind === 'redis-cluster') {
    throw new InvalidOptionError(option, url, 'database 0: Redis Cluster has only one database')
  }
  result.safe = maskUrl(url)
  return result
}

/** Query parameters whose values are secrets (`?password=`, `?sentinelPassword=`, `?token=`, `?tlsKey=`). */
const SECRET_PARAM = /(pass|secret|token|key|auth|credential)/i

/**
 * A URL as it may be printed or logged: userinfo holding a password, and the values of secret-looking
 * query parameters replaced by `***`. Works on store URLs (several hosts) and http URLs alike.
 */
export function maskUrl(url: string): string {
  const hashAt = url.indexOf('#')
  const base = hashAt === -1 ? url : url.slice(0, hashAt)
  const queryAt = base.indexOf('?')
  let head = queryAt === -1 ? base : base.slice(0, queryAt)
  const at = head.lastIndexOf('@')
  const schemeEnd = head.indexOf('://')
  if (at > schemeEnd && schemeEnd !== -1) {
    const userinfo = head.slice(schemeEnd + 3, at)
    const colon = userinfo.indexOf(':')
    if (colon !== -1) head = `${head.slice(0, schemeEnd + 3)}***${head.slice(at)}`
  }
  if (queryAt === -1) return head
  const query = base
    .slice(queryAt + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      return eq !== -1 && SECRET_PARAM.test(pair.slice(0, eq)) ? `${pair.slice(0, eq)}=***` : pair
    })
    .join('&')
  return `${head}?${query}`
}

function parseHosts(list: string, defaultPort: number, url: string, option: string): HostPort[] {
  if (!list) return [{ host: '127.0.0.1', port: defaultPort }]
  return list.split(',').map((item) => {
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(item)
    const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(item)
    const parts = bracketed ?? plain
    const port = parts?.[2] === undefined ? defaultPort : Number(parts[2])
    if (!parts?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidOptionError(option, url, `host:port pairs with ports 1-65535 (bad: "${item}")`)
    }
    return { host: parts[1], port }
  })
}

function parseDatabase(text: string, url: string, option: string): number {
  const db = Number(text)
  if (!/^\d+$/.test(text) || db > 65535) throw new InvalidOptionError(option, url, 'a database number after the host: redis://host:6379/0')
  return db
}
