import { defineScript } from '../stores/script.js'
import type { MemoryScriptContext } from '../stores/types.js'
import { type AlgorithmCode, evaluateRule, type RuleArgs } from './algorithms.js'

/**
 * Decides every rule of one request, all or nothing, over the memory store's entries; the twin of
 * rate-limit.lua. The reply is flat integers, as the script's: all-allowed, then per rule allowed,
 * remaining, reset ms, retry ms.
 */
/** 'c' consume, 'p' peek (write nothing), 'f' force (write whatever the outcome; costs may be negative). */
export type DecideMode = 'c' | 'p' | 'f'

export function decideRules(ctx: MemoryScriptContext, keys: string[], rules: readonly RuleArgs[], nowUs: number, mode: DecideMode): number[] {
  const nowMs = Math.floor(nowUs / 1000)
  const outcomes = rules.map((rule, i) => evaluateRule(ctx.get(keys[i] as string) as number[] | undefined, rule, nowUs))
  const all = outcomes.every((outcome) => outcome.allowed)
  const commit = mode === 'f' || (all && mode === 'c')
  const reply = [all ? 1 : 0]
  outcomes.forEach((outcome, i) => {
    if (commit && (rules[i] as RuleArgs).cost !== 0) ctx.set(keys[i] as string, outcome.state, outcome.expireAtMs - nowMs)
    reply.push(
      outcome.allowed ? 1 : 0,
      commit ? outcome.remainingAfter : outcome.remainingBefore,
      commit ? outcome.resetAfter : outcome.resetBefore,
      outcome.retryMs,
    )
  })
  return reply
}

/** Script arguments: time override (µs, '' for the server clock), mode, then five per rule. */
export const RATE_LIMIT = defineScript('rate-limit', new URL('./rate-limit.lua', import.meta.url), (ctx, keys, args) => {
  const rules = keys.map((_, i): RuleArgs => {
    const b = 2 + i * 5
    return {
      algo: args[b] as AlgorithmCode,
      limit: Number(args[b + 1]),
      windowMs: Number(args[b + 2]),
      param: Number(args[b + 3]),
      cost: Number(args[b + 4]),
    }
  })
  return decideRules(ctx, keys, rules, args[0] ? Number(args[0]) : ctx.now() * 1000, args[1] as DecideMode)
})

/** Arguments for RATE_LIMIT: `nowUs` only in tests and replays; production takes the store's time. */
export function scriptArgs(rules: readonly RuleArgs[], mode: DecideMode, nowUs?: number): Array<string | number> {
  const args: Array<string | number> = [nowUs === undefined ? '' : nowUs, mode]
  for (const rule of rules) args.push(rule.algo, rule.limit, rule.windowMs, rule.param, rule.cost)
  return args
}
