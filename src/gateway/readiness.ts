import type { ModelRouter } from '../calls/router.js'
import type { Pricing } from '../llm/pricing.js'
import type { Store } from '../stores/types.js'
import type { GatewayConfig } from './config.js'

export interface Readiness {
  /** `ready`, or `degraded` when a store cannot be reached or the limits are decided by the fallback (the gateway still answers: misses, fallback limits). */
  status: 'ready' | 'degraded'
  /** Per store: `ok`, or the error code of the failed ping or write (with Redis' own word: `E_STORE_COMMAND (OOM)`). No URLs: /readyz needs no key. */
  checks: Record<string, string>
  warnings: string[]
}

/**
 * Whether a store may drop limit counters to make room: only Redis' `noeviction` (or a store with no
 * memory limit) keeps them; an `allkeys-*` or `volatile-*` policy evicts them as readily as cached
 * replies (limit keys carry TTLs), and a limited key gets through again.
 */
export function mayEvict(info: Record<string, string>): boolean {
  const policy = info.maxmemory_policy
  if (policy === undefined || policy === 'noeviction') return false
  return info.maxmemory === undefined || Number(info.maxmemory) > 0
}

const PROBE_KEY = 'readyz:probe'

/** An error as /readyz shows it: its code, and the store's own first word when it refused (never the message: it names the URL). */
function checkOf(error: Error & { code?: string }): string {
  const code = error.code ?? 'error'
  const word = /^[A-Z]{3,}\b/.exec((error.cause as Error | undefined)?.message ?? '')?.[0]
  return word ? `${code} (${word})` : code
}

/** Pings the stores (and writes a probe key), reads whether the limits store may evict, and says whether the limits are on their fallback. */
export async function readiness(store: Store, limitsStore: Store, limitsOnFallback = false): Promise<Readiness> {
  const checks: Record<string, string> = {}
  // A store can answer a ping and a SET and still refuse the limiter (an ACL without EVALSHA).
  if (limitsOnFallback) checks.limits = 'fallback'
  const warnings: string[] = []
  const stores = limitsStore === store ? [['store', store] as const] : ([['store', store], ['limitsStore', limitsStore]] as const)
  for (const [name, each] of stores) {
    try {
      await each.ping()
      // A ping is answered by a Redis that refuses every write (OOM under noeviction, MISCONF,
      // READONLY after a failover, NOPERM): only a write shows it.
      await each.set(PROBE_KEY, '1', { ttlMs: 10_000 })
      checks[name] = 'ok'
    } catch (err) {
      checks[name] = checkOf(err as Error & { code?: string })
    }
  }
  try {
    if (mayEvict(await limitsStore.serverInfo())) {
      warnings.push(`the limits store (${limitsStore.kind}) may evict keys (maxmemory-policy is not noeviction): limit counters can vanish under memory pressure; set noeviction or give limits their own store (limits.store)`)
    }
  } catch {
    // Unreachable (reported by its check) or INFO refused by an ACL: nothing more to say.
  }
  const down = Object.values(checks).some((check) => check !== 'ok')
  return { status: down ? 'degraded' : 'ready', checks, warnings }
}

/** What the config deserves a warning for at start: configured models (and alias targets) without a price. */
export function startupWarnings(config: GatewayConfig, router: ModelRouter, pricing: Pricing): string[] {
  const unpriced = router.configuredModels().filter((model) => !pricing.listed(router.resolve(model)?.model ?? model))
  if (unpriced.length === 0) return []
  const what = config.unpricedModel === 'deny' ? 'calls to them are refused' : config.unpricedModel === 'allow' ? 'they cost nothing and budgets do not count them' : `they are charged at the estimate price (${config.unpricedPrice.input}/${config.unpricedPrice.output} USD per 1M tokens)`
  return [`models without a price (unpricedModel: ${config.unpricedModel}): ${unpriced.join(', ')}; ${what}. Price them under pricing:`]
}
