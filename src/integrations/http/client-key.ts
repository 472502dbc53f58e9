import { DEFAULTS } from '../../core/defaults.js'
import { isIPv4, isIPv6 } from 'node:net'

/**
 * The rate-limit key of a client address. An IPv4 address counts alone; an IPv6 address counts with
 * its whole /64 (or `ipv6Subnet`), because one host usually holds a /64 and can pick any of its
 * 2^64 addresses: per address, it would never be limited. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a
 * dual-stack socket reports) is the IPv4 address it maps.
 */
export function clientAddressKey(address: string, ipv6Subnet: number = DEFAULTS.http.ipv6Subnet): string {
  const ip = address.includes('%') ? address.slice(0, address.indexOf('%')) : address
  if (isIPv4(ip)) return ip
  if (!isIPv6(ip)) return address
  const groups = expandIPv6(ip)
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `${(groups[6] as number) >> 8}.${(groups[6] as number) & 255}.${(groups[7] as number) >> 8}.${(groups[7] as number) & 255}`
  }
  const masked = groups.map((group, i) => {
    const bits = Math.min(16, Math.max(0, ipv6Subnet - i * 16))
    return bits === 0 ? 0 : group & ((0xffff << (16 - bits)) & 0xffff)
  })
  return `${masked.map((group) => group.toString(16)).join(':')}/${ipv6Subnet}`
}

/** Eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted IPv4 converted). */
function expandIPv6(ip: string): number[] {
  let text = ip
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16))
}

/** What an authentication layer leaves on a request (passport, @fastify/jwt and most others: `user.id`). */
interface MaybeAuthenticated {
  user?: unknown
}

/**
 * The default key of a request: the authenticated user's id when an earlier middleware set
 * `request.user.id`, else the client address (see {@link clientAddressKey}). The two are prefixed so
 * that a user id can never collide with an address.
 */
export function defaultClientKey(request: MaybeAuthenticated, ip: string | undefined): string {
  const user = request.user as { id?: unknown } | undefined
  const id = user !== null && typeof user === 'object' ? user.id : undefined
  if (typeof id === 'string' && id !== '') return `user:${id}`
  if (typeof id === 'number' && Number.isFinite(id)) return `user:${id}`
  return `ip:${clientAddressKey(ip ?? 'unknown')}`
}
