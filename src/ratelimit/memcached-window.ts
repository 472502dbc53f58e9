import type { Clock } from '../core/clock.js'
import type { Store } from '../stores/types.js'
import type { NormalizedRule } from './options.js'

/**
 * Fixed window on a store without scripts (memcached), from what it does atomically: a counter per
 * window created with its expiry by the same increment. Differences from the script path, documented
 * in the README: the window index comes from this process's clock (memcached has no TIME), and a
 * refused request is taken back with a second decrement, so for a moment concurrent callers may see
 * the count too high (they are refused, never wrongly allowed). Replies in the script's format.
 */
export async function memcachedFixedWindow(
  store: Store,
  key: string,
  rule: NormalizedRule,
  cost: number,
  mode: 'c' | 'p',
  clock: Clock,
): Promise<number[]> {
  const now = clock.now()
  const idx = Math.floor(now / rule.windowMs)
  const endMs = Math.ceil((idx + 1) * rule.windowMs - now)
  const windowKey = `${key}:${idx}`
  const reply = (allowed: boolean, count: number, retry: number) =>
    allowed ? [1, Math.max(0, rule.limit - count), count > 0 ? endMs : 0] : [0, 0, Math.max(0, rule.limit - count), count > 0 ? endMs : 0, retry]
  if (mode === 'p' || cost === 0 || cost > rule.limit) {
    const count = Number((await store.get(windowKey))?.toString() ?? 0)
    const allowed = cost <= rule.limit && count + cost <= rule.limit
    return reply(allowed, count, cost > rule.limit ? -1 : allowed ? 0 : endMs)
  }
  const count = await store.increment(windowKey, cost, { ttlMs: endMs })
  if (count <= rule.limit) return reply(true, count, 0)
  await store.increment(windowKey, -cost)
  return reply(false, count - cost, endMs)
}
