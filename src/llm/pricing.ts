import { ModelNotPricedError } from '../core/errors.js'
import { type ModelPrice, PRICE_TABLE } from './price-table.js'
import type { Usage } from './stream-assembler.js'

export type { ModelPrice }

/** What a model without a price costs: `deny` refuses the call, `allow` counts it as free, `estimate` charges {@link ESTIMATE_PRICE}. */
export type UnpricedModel = 'deny' | 'allow' | 'estimate'

/** The built-in table (see price-table.ts for its source and date), by model name. */
export const DEFAULT_PRICES: ReadonlyMap<string, ModelPrice> = new Map(PRICE_TABLE)

/**
 * The price `estimate` charges for an unpriced model: a flagship model's list price, so that budgets
 * bite on a model nobody priced instead of letting it run free; price cheap models explicitly.
 */
export const ESTIMATE_PRICE: ModelPrice = { input: 10, output: 30 }

/** Prices looked up by model name are remembered, up to this many names (model names come from clients). */
const MEMO_MAX = 1_000

/**
 * Prices of a deployment: the built-in table overlaid with the config's `pricing`, and what happens to
 * a model that has none. Lookups go exactly, then by the longest listed name the model starts with
 * (`gpt-4o-mini-2024-07-18` finds `gpt-4o-mini`). Keyed by a `Map`: model names are client input.
 */
export class Pricing {
  readonly #prices: Map<string, ModelPrice>
  readonly #memo = new Map<string, ModelPrice | null>()

  constructor(
    overrides: Readonly<Record<string, ModelPrice>> = {},
    readonly unpriced: UnpricedModel = 'estimate',
    readonly estimatePrice: ModelPrice = ESTIMATE_PRICE,
  ) {
    this.#prices = new Map(DEFAULT_PRICES)
    for (const [model, price] of Object.entries(overrides)) this.#prices.set(model, price)
  }

  /** The listed price of `model`, or undefined. */
  listed(model: string): ModelPrice | undefined {
    const memo = this.#memo.get(model)
    if (memo !== undefined) return memo ?? undefined
    let found = this.#prices.get(model)
    if (!found) {
      let best = ''
      for (const name of this.#prices.keys()) if (name.length > best.length && model.startsWith(name)) best = name
      found = best ? this.#prices.get(best) : undefined
    }
    if (this.#memo.size >= MEMO_MAX) this.#memo.clear()
    this.#memo.set(model, found ?? null)
    return found
  }

  /** The price a call to `model` is charged: listed, or by the `unpriced` rule (undefined: free). Throws `E_MODEL_NOT_PRICED` under `deny`. */
  priceFor(model: string): ModelPrice | undefined {
    const listed = this.listed(model)
    if (listed) return listed
    if (this.unpriced === 'deny') throw new ModelNotPricedError(model)
    return this.unpriced === 'estimate' ? this.estimatePrice : undefined
  }
}

/** USD for `usage` at `price`; 0 when either is unknown. */
export function costUsd(price: ModelPrice | undefined, usage: Usage | null | undefined): number {
  if (!usage) return 0
  const input = usage.prompt_tokens ?? 0
  return tokensUsd(price, input, usage.completion_tokens ?? Math.max(0, (usage.total_tokens ?? 0) - input))
}

/** USD for `input` prompt and `output` completion tokens at `price`; 0 when the price is unknown. */
export function tokensUsd(price: ModelPrice | undefined, input: number, output: number): number {
  return price ? (input * price.input + output * price.output) / 1_000_000 : 0
}
