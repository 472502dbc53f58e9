import { DEFAULTS } from '../core/defaults.js'

export interface CostLine {
  tenant: string
  model: string
  /** Replies that came from the upstream. */
  upstreamCalls: number
  /** Replies served from the cache (hits and coalesced waits). */
  cacheHits: number
  promptTokens: number
  completionTokens: number
  /** USD paid upstream, by the pricing table. */
  spentUsd: number
  /** USD the cache saved: what the cached replies would have cost again. */
  savedUsd: number
}

/**
 * Spend and savings per tenant and model, in this process (the metrics layer exports them). Model
 * names come from callers: past `maxLines` lines, a new pair is counted under its tenant's `other`
 * model (and past twice that, under `other`/`other`), so made-up names cannot grow it without bound.
 */
export class CostLedger {
  readonly #lines = new Map<string, CostLine>()

  constructor(private readonly maxLines: number = DEFAULTS.gateway.maxLedgerLines) {}

  record(tenant: string, model: string, hit: boolean, usd: number, promptTokens: number, completionTokens: number): void {
    const line = this.#line(tenant, model)
    if (hit) {
      line.cacheHits++
      line.savedUsd += usd
    } else {
      line.upstreamCalls++
      line.spentUsd += usd
      line.promptTokens += promptTokens
      line.completionTokens += completionTokens
    }
  }

  #line(tenant: string, model: string): CostLine {
    const found = this.#lines.get(`${tenant}\n${model}`)
    if (found) return found
    if (this.#lines.size >= this.maxLines) {
      if (model !== 'other') return this.#line(tenant, 'other')
      if (this.#lines.size >= this.maxLines * 2 && tenant !== 'other') return this.#line('other', 'other')
    }
    const line = { tenant, model, upstreamCalls: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0, spentUsd: 0, savedUsd: 0 }
    this.#lines.set(`${tenant}\n${model}`, line)
    return line
  }

  lines(): CostLine[] {
    return [...this.#lines.values()].map((line) => ({ ...line }))
  }
}
