import { InvalidOptionError, RateLimitedError } from '../../core/errors.js'
import { DEFAULT_OUTPUT_ESTIMATE, estimatePromptTokens } from '../../llm/usage-estimate.js'
import type { RateLimitDecision } from '../../ratelimit/types.js'
import type { ModelCall } from './model-types.js'
import type { ParsedLimits } from './options.js'

/**
 * What one call took from its limits, settled exactly once against the tokens it really cost:
 * the usage of the model call it caused, or nothing (a hit, or a wait for another caller's answer).
 * Usage arriving after that (a background refresh the call started) is added on top.
 */
export class CallCharge {
  #settled = false

  constructor(
    private readonly limits: ParsedLimits,
    private readonly key: string,
    private readonly estimate: number,
    readonly decision: RateLimitDecision,
  ) {}

  /** The call caused no model call: its token estimate goes back. */
  refund(): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#estimatedInStore) this.#adjust(-this.estimate)
  }

  /** The model call this charge paid for reported `tokens`; undefined (no usage reported): the estimate stands. */
  settle(tokens: number | undefined): void {
    const first = !this.#settled
    this.#settled = true
    const used = tokens ?? this.estimate
    this.#adjust(used - (first && this.#estimatedInStore ? this.estimate : 0))
  }

  /**
   * The estimate is taken back only where it was counted: one the fallback decided lives in this
   * process's memory, not in the store a settlement goes to once it answers again.
   */
  get #estimatedInStore(): boolean {
    return this.decision.source === 'store'
  }

  #adjust(tokens: number): void {
    if (tokens === 0 || this.limits.tokenRules.size === 0) return
    const cost: Record<string, number> = {}
    for (const name of this.limits.tokenRules) cost[name] = tokens
    // In the background: an answer does not wait for bookkeeping, and a failing store is the
    // limiter's to handle (its onStoreError policy decides the next calls).
    this.limits.limiter.adjust(this.key, { cost }).catch(() => {})
  }
}

/** Charges `call` to its limits up front; throws `RateLimitedError` (`E_RATE_LIMITED`) when refused. */
export async function chargeCall(limits: ParsedLimits, call: ModelCall): Promise<CallCharge> {
  const key = typeof limits.key === 'function' ? limits.key(call) : limits.key
  if (typeof key !== 'string' || key.length === 0) throw new InvalidOptionError('limits.key', key, 'a non-empty string (returned by the key function)')
  const estimate = limits.tokenRules.size === 0 ? 0 : estimateTokens(limits, call)
  const cost: Record<string, number> = {}
  for (const rule of limits.limiter.rules) cost[rule.name] = limits.tokenRules.has(rule.name) ? estimate : 1
  const decision = await limits.limiter.consume(key, { cost })
  if (!decision.allowed) throw new RateLimitedError(refusal(key, decision), decision)
  return new CallCharge(limits, key, estimate, decision)
}

function estimateTokens(limits: ParsedLimits, call: ModelCall): number {
  if (limits.estimate) {
    const tokens = limits.estimate(call)
    if (typeof tokens !== 'number' || !Number.isFinite(tokens) || tokens < 0) throw new InvalidOptionError('limits.estimate', tokens, 'a number of tokens >= 0 (returned by the estimate function)')
    return Math.ceil(tokens)
  }
  const { prompt, tools, maxOutputTokens } = call.params
  const output = typeof maxOutputTokens === 'number' && maxOutputTokens > 0 ? Math.ceil(maxOutputTokens) : DEFAULT_OUTPUT_ESTIMATE
  return estimatePromptTokens({ messages: prompt, tools }) + output
}

function refusal(key: string, decision: RateLimitDecision): string {
  const rule = decision.rules.find((each) => !each.allowed)
  if (decision.reason === 'store-error') return `Rate limit store unavailable for "${key}" and its policy is deny`
  const what = rule ? `rule "${rule.name}" (limit ${rule.limit})` : 'its limits'
  if (decision.reason === 'cost-exceeds-limit') return `The call's estimated cost exceeds ${what} for "${key}"`
  return `Rate limit reached for "${key}": ${what}; retry in ${Math.ceil(decision.retryAfterMs / 1000)} s`
}
