import { defineScript } from './script.js'

/** Counter increment whose expiry is set at creation only; shared by every store that runs scripts. */
export const INCREMENT = defineScript('increment', new URL('./increment.lua', import.meta.url), (ctx, keys, args) => {
  const key = keys[0] as string
  const by = Number(args[0])
  const current = ctx.get(key)
  if (current === undefined) {
    ctx.set(key, by, args[1] ? Number(args[1]) : undefined)
    return by
  }
  const base = typeof current === 'number' ? current : integerOf(current)
  if (base === undefined) throw new Error('ERR value is not an integer or out of range')
  const ttlMs = ctx.pttl(key)
  ctx.set(key, base + by, ttlMs > 0 ? ttlMs : undefined)
  return base + by
})

function integerOf(value: unknown): number | undefined {
  if (!Buffer.isBuffer(value)) return undefined
  const text = value.toString('utf8')
  return /^-?\d+$/.test(text) ? Number(text) : undefined
}
