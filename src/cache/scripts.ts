import { defineScript } from '../stores/script.js'
import type { MemoryScriptContext } from '../stores/types.js'

/** The owner part of a lease's value: `owner` or `owner state`. */
export const leaseOwner = (value: string): string => {
  const space = value.indexOf(' ')
  return space === -1 ? value : value.slice(0, space)
}

const text = (value: unknown): string | undefined => (value === undefined ? undefined : Buffer.isBuffer(value) ? value.toString('utf8') : String(value))
const ownedBy = (ctx: MemoryScriptContext, key: string, owner: string): boolean => {
  const value = text(ctx.get(key))
  return value !== undefined && leaseOwner(value) === owner
}

export const LEASE_ACQUIRE = defineScript('lease-acquire', new URL('./lease-acquire.lua', import.meta.url), (ctx, keys, args): [number, string, number] => {
  const key = keys[0] as string
  const held = text(ctx.get(key))
  if (held !== undefined) return [0, held, ctx.now()]
  ctx.set(key, args[0] as string, Number(args[1]))
  return [1, '', ctx.now()]
})

export const LEASE_RENEW = defineScript('lease-renew', new URL('./lease-renew.lua', import.meta.url), (ctx, keys, args): number => {
  const key = keys[0] as string
  if (!ownedBy(ctx, key, args[0] as string)) return 0
  ctx.set(key, args[2] as string, Number(args[1]))
  return 1
})

export const LEASE_RELEASE = defineScript('lease-release', new URL('./lease-release.lua', import.meta.url), (ctx, keys, args): number => {
  const key = keys[0] as string
  if (!ownedBy(ctx, key, args[0] as string)) return 0
  ctx.delete(key)
  return 1
})

export const TAG_MARK = defineScript('tag-mark', new URL('./tag-mark.lua', import.meta.url), (ctx, keys, args): string => {
  const at = String(ctx.now() + 0.5)
  ctx.set(keys[0] as string, at, Number(args[0]))
  return at
})

export const STORE_TIME = defineScript('store-time', new URL('./store-time.lua', import.meta.url), (ctx): number => ctx.now())
