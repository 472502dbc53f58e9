import type { Usage } from './stream-assembler.js'

/** USD per one million tokens. */
export interface ModelPrice {
  input: number
  output: number
}

/**
 * List prices of common models (USD per 1M tokens, as published by their providers in 2025-2026).
 * A starting point for cost accounting only: override or extend it under `pricing:` in the config,
 * which is the source of truth for a deployment.
 */
export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
}

/** Looks a model up exactly, then by the longest configured name it starts with (dated snapshots). */
export function priceOf(prices: Record<string, ModelPrice>, model: string): ModelPrice | undefined {
  if (prices[model]) return prices[model]
  let best: string | undefined
  for (const name of Object.keys(prices)) if (model.startsWith(name) && (!best || name.length > best.length)) best = name
  return best ? prices[best] : undefined
}

/** USD for `usage` at `price`; 0 when either is unknown. */
export function costUsd(price: ModelPrice | undefined, usage: Usage | null | undefined): number {
  if (!price || !usage) return 0
  const input = usage.prompt_tokens ?? 0
  const output = usage.completion_tokens ?? Math.max(0, (usage.total_tokens ?? 0) - input)
  return (input * price.input + output * price.output) / 1_000_000
}
