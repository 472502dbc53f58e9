/** USD per one million tokens. */
export interface ModelPrice {
  input: number
  output: number
}

/**
 * List prices of the models a client can ask the gateway for, USD per 1M input and 1M output tokens at the standard tier
 * (not batch, flex or priority, not cached input; where a price is tiered by prompt length, the lowest tier: Gemini and
 * Claude up to 200k prompt tokens, GPT-5.4 and later up to 272k). One entry per model name as the provider's
 * OpenAI-compatible endpoint takes it. The gateway looks a model up exactly, then by the longest name here that the model
 * starts with, so dated snapshots (`gpt-4o-mini-2024-07-18`) resolve to their base name; a snapshot or variant is listed
 * only where its price differs from what that lookup would give, or where it is a model in its own right.
 *
 * Source: LiteLLM's model_prices_and_context_window.json (the BerriAI/litellm repository, at commit 00035b6,
 * read on 2026-11-22; its commit date is not known), `input_cost_per_token` and `output_cost_per_token` times 1e6; entries
 * for Anthropic models whose alias has no entry there take the price of the dated snapshot. The figures were not re-read
 * from the providers' pricing pages: check a provider's page before relying on one, and override it under `pricing:`.
 */
export const PRICE_TABLE: ReadonlyArray<readonly [model: string, price: ModelPrice]> = [
  // OpenAI
  ['gpt-5.6', { input: 5, output: 30 }],
  ['gpt-5.6-terra', { input: 2.5, output: 15 }],
  ['gpt-5.6-luna', { input: 1, output: 6 }],
  ['gpt-5.5', { input: 5, output: 30 }],
  ['gpt-5.5-pro', { input: 30, output: 180 }],
  ['gpt-5.4', { input: 2.5, output: 15 }],
  ['gpt-5.4-mini', { input: 0.75, output: 4.5 }],
  ['gpt-5.4-nano', { input: 0.2, output: 1.25 }],
  ['gpt-5.4-pro', { input: 30, output: 180 }],
  ['gpt-5.3-chat-latest', { input: 1.75, output: 14 }],
  ['gpt-5.3-codex', { input: 1.75, output: 14 }],
  ['gpt-5.2', { input: 1.75, output: 14 }],
  ['gpt-5.2-pro', { input: 21, output: 168 }],
  ['gpt-5.1', { input: 1.25, output: 10 }],
  ['gpt-5.1-codex-mini', { input: 0.25, output: 2 }],
  ['gpt-5', { input: 1.25, output: 10 }],
  ['gpt-5-chat-latest', { input: 1.25, output: 10 }],
  ['gpt-5-mini', { input: 0.25, output: 2 }],
  ['gpt-5-nano', { input: 0.05, output: 0.4 }],
  ['gpt-5-pro', { input: 15, output: 120 }],
  ['gpt-4.1', { input: 2, output: 8 }],
  ['gpt-4.1-mini', { input: 0.4, output: 1.6 }],
  ['gpt-4.1-nano', { input: 0.1, output: 0.4 }],
  ['gpt-4o', { input: 2.5, output: 10 }],
  ['gpt-4o-2024-05-13', { input: 5, output: 15 }],
  ['gpt-4o-audio-preview', { input: 2.5, output: 10 }],
  ['gpt-4o-search-preview', { input: 2.5, output: 10 }],
  ['gpt-4o-realtime-preview', { input: 5, output: 20 }],
  ['gpt-4o-transcribe', { input: 2.5, output: 10 }],
  ['gpt-4o-mini', { input: 0.15, output: 0.6 }],
  ['gpt-4o-mini-audio-preview', { input: 0.15, output: 0.6 }],
  ['gpt-4o-mini-search-preview', { input: 0.15, output: 0.6 }],
  ['gpt-4o-mini-realtime-preview', { input: 0.6, output: 2.4 }],
  ['gpt-4o-mini-transcribe', { input: 1.25, output: 5 }],
  ['gpt-4o-mini-tts', { input: 2.5, output: 10 }],
  ['chatgpt-4o-latest', { input: 5, output: 15 }],
  ['gpt-audio', { input: 2.5, output: 10 }],
  ['gpt-audio-mini', { input: 0.6, output: 2.4 }],
  ['o1', { input: 15, output: 60 }],
  ['o1-pro', { input: 150, output: 600 }],
  ['o3', { input: 2, output: 8 }],
  ['o3-mini', { input: 1.1, output: 4.4 }],
  ['o3-pro', { input: 20, output: 80 }],
  ['o3-deep-research', { input: 10, output: 40 }],
  ['o4-mini', { input: 1.1, output: 4.4 }],
  ['o4-mini-deep-research', { input: 2, output: 8 }],
  ['gpt-4-turbo', { input: 10, output: 30 }],
  ['gpt-4', { input: 30, output: 60 }],
  ['gpt-3.5-turbo', { input: 0.5, output: 1.5 }],
  ['text-embedding-3-small', { input: 0.02, output: 0 }],
  ['text-embedding-3-large', { input: 0.13, output: 0 }],
  ['text-embedding-ada-002', { input: 0.1, output: 0 }],

  // Anthropic, through its OpenAI-compatible endpoint
  // Claude 3.5: Anthropic's published list prices (not in the LiteLLM copy above under Anthropic's own names).
  ['claude-3-5-sonnet', { input: 3, output: 15 }],
  ['claude-3-5-haiku', { input: 0.8, output: 4 }],
  ['claude-fable-5', { input: 10, output: 50 }],
  ['claude-sonnet-5', { input: 2, output: 10 }],
  ['claude-opus-4-8', { input: 5, output: 25 }],
  ['claude-opus-4-7', { input: 5, output: 25 }],
  ['claude-opus-4-6', { input: 5, output: 25 }],
  ['claude-opus-4-5', { input: 5, output: 25 }],
  ['claude-opus-4-1', { input: 15, output: 75 }],
  ['claude-opus-4', { input: 15, output: 75 }],
  ['claude-sonnet-4-6', { input: 3, output: 15 }],
  ['claude-sonnet-4-5', { input: 3, output: 15 }],
  ['claude-sonnet-4', { input: 3, output: 15 }],
  ['claude-haiku-4-5', { input: 1, output: 5 }],
  ['claude-3-7-sonnet', { input: 3, output: 15 }],
  ['claude-3-opus', { input: 15, output: 75 }],
  ['claude-3-haiku', { input: 0.25, output: 1.25 }],

  // Mistral
  ['mistral-large-latest', { input: 0.5, output: 1.5 }],
  ['mistral-large-2512', { input: 0.5, output: 1.5 }],
  ['mistral-large-2411', { input: 2, output: 6 }],
  ['mistral-medium-latest', { input: 1.5, output: 7.5 }],
  ['mistral-medium-2604', { input: 1.5, output: 7.5 }],
  ['mistral-medium-2508', { input: 0.4, output: 2 }],
  ['mistral-medium-2505', { input: 0.4, output: 2 }],
  ['mistral-small-latest', { input: 0.06, output: 0.18 }],
  ['magistral-medium-latest', { input: 2, output: 5 }],
  ['magistral-medium-2509', { input: 2, output: 5 }],
  ['magistral-small-latest', { input: 0.5, output: 1.5 }],
  ['magistral-small-2506', { input: 0.5, output: 1.5 }],
  ['codestral-latest', { input: 1, output: 3 }],
  ['codestral-2508', { input: 0.3, output: 0.9 }],
  ['devstral-latest', { input: 0.4, output: 2 }],
  ['devstral-2512', { input: 0.4, output: 2 }],
  ['devstral-medium-latest', { input: 0.4, output: 2 }],
  ['devstral-small-latest', { input: 0.1, output: 0.3 }],
  ['ministral-8b-latest', { input: 0.15, output: 0.15 }],
  ['ministral-8b-2512', { input: 0.15, output: 0.15 }],
  ['ministral-3-14b-2512', { input: 0.2, output: 0.2 }],
  ['ministral-3-8b-2512', { input: 0.15, output: 0.15 }],
  ['ministral-3-3b-2512', { input: 0.1, output: 0.1 }],
  ['open-mistral-nemo', { input: 0.3, output: 0.3 }],
  ['pixtral-large-latest', { input: 2, output: 6 }],
  ['pixtral-large-2411', { input: 2, output: 6 }],
  ['pixtral-12b-2409', { input: 0.15, output: 0.15 }],
  ['mistral-embed', { input: 0.1, output: 0 }],
  ['codestral-embed', { input: 0.15, output: 0 }],

  // Groq
  ['llama-3.3-70b-versatile', { input: 0.59, output: 0.79 }],
  ['llama-3.1-8b-instant', { input: 0.05, output: 0.08 }],
  ['meta-llama/llama-4-maverick-17b-128e-instruct', { input: 0.2, output: 0.6 }],
  ['meta-llama/llama-4-scout-17b-16e-instruct', { input: 0.11, output: 0.34 }],
  ['meta-llama/llama-guard-4-12b', { input: 0.2, output: 0.2 }],
  ['openai/gpt-oss-120b', { input: 0.15, output: 0.6 }],
  ['openai/gpt-oss-20b', { input: 0.075, output: 0.3 }],
  ['openai/gpt-oss-safeguard-20b', { input: 0.075, output: 0.3 }],
  ['qwen/qwen3-32b', { input: 0.29, output: 0.59 }],
  ['moonshotai/kimi-k2-instruct-0905', { input: 1, output: 3 }],

  // DeepSeek
  ['deepseek-chat', { input: 0.28, output: 0.42 }],
  ['deepseek-reasoner', { input: 0.28, output: 0.42 }],
  ['deepseek-v4-pro', { input: 0.435, output: 0.87 }],
  ['deepseek-v4-flash', { input: 0.14, output: 0.28 }],

  // Google Gemini, through its OpenAI-compatible endpoint
  ['gemini-3.5-flash', { input: 1.5, output: 9 }],
  ['gemini-3.1-pro-preview', { input: 2, output: 12 }],
  ['gemini-3.1-flash-lite', { input: 0.25, output: 1.5 }],
  ['gemini-3-pro-preview', { input: 2, output: 12 }],
  ['gemini-3-flash-preview', { input: 0.5, output: 3 }],
  ['gemini-2.5-pro', { input: 1.25, output: 10 }],
  ['gemini-2.5-flash', { input: 0.3, output: 2.5 }],
  ['gemini-2.5-flash-lite', { input: 0.1, output: 0.4 }],
  ['gemini-2.0-flash', { input: 0.1, output: 0.4 }],
  ['gemini-2.0-flash-lite', { input: 0.075, output: 0.3 }],
  ['gemini-pro-latest', { input: 1.25, output: 10 }],
  ['gemini-flash-latest', { input: 0.3, output: 2.5 }],
  ['gemini-flash-lite-latest', { input: 0.1, output: 0.4 }],
  ['gemini-embedding-001', { input: 0.15, output: 0 }],

  // xAI
  ['grok-4.5', { input: 2, output: 6 }],
  ['grok-4.3', { input: 1.25, output: 2.5 }],
  ['grok-4.20-0309-reasoning', { input: 2, output: 6 }],
  ['grok-4.20-beta-0309-reasoning', { input: 2, output: 6 }],
  ['grok-4.20-beta-0309-non-reasoning', { input: 2, output: 6 }],
  ['grok-4.20-multi-agent-beta-0309', { input: 2, output: 6 }],
  ['grok-4-1-fast', { input: 0.2, output: 0.5 }],
  ['grok-4-fast-reasoning', { input: 0.2, output: 0.5 }],
  ['grok-4-fast-non-reasoning', { input: 0.2, output: 0.5 }],
  ['grok-4', { input: 3, output: 15 }],
  ['grok-code-fast-1', { input: 0.2, output: 1.5 }],
  ['grok-3', { input: 3, output: 15 }],
  ['grok-3-mini', { input: 0.3, output: 0.5 }],
]

/** The date the figures in {@link PRICE_TABLE} were read from the stored copy of LiteLLM's price file. */
export const PRICES_AS_OF = '2026-11-22'
