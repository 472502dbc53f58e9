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

/** Spend and savings per tenant and model, in this process (the metrics layer exports them). */
export class CostLedger {
  readonly #lines = new Map<string, CostLine>()

  record(tenant: string, model: string, hit: boolean, usd: number, promptTokens: number, completionTokens: number): void {
    const id = `${tenant}\n${model}`
    let line = this.#lines.get(id)
    if (!line) {
      line = { tenant, model, upstreamCalls: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0, spentUsd: 0, savedUsd: 0 }
      this.#lines.set(id, line)
    }
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

  lines(): CostLine[] {
    return [...this.#lines.values()].map((line) => ({ ...line }))
  }
}
