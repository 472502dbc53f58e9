import { defineScript } from '../stores/script.js'

/** The token of a stored session value (`<token>\n<json>`), '' for none. */
export function tokenOf(value: Buffer | string | null | undefined): string {
  if (value === null || value === undefined) return ''
  const text = Buffer.isBuffer(value) ? value.toString('utf8', 0, Math.min(value.byteLength, 64)) : value
  const newline = text.indexOf('\n')
  return newline === -1 ? '' : text.slice(0, newline)
}

/** Check-and-set of a session value: Lua on Redis, the same logic synchronously on memory. */
export const SESSION_CAS = defineScript<number>('session-cas', new URL('./session-cas.lua', import.meta.url), (ctx, keys, args) => {
  const key = keys[0] as string
  const current = ctx.get(key) as Buffer | undefined
  if (tokenOf(current) !== args[0]) return 0
  ctx.set(key, Buffer.from(args[1] as string, 'utf8'), Number(args[2]))
  return 1
})
