import { defineScript } from '../stores/script.js'
import { type AlgorithmCode, evaluateRule, type RuleArgs } from './algorithms.js'

/**
 * Script arguments: time override (µs, '' for the server clock), mode, then five per rule.
 * The reply is flat integers (Lua numbers become integers on the wire): all-allowed, then per rule
 * allowed, remaining, reset ms, retry ms.
 */
export type DecisionReply = number[]

export const RATE_LIMIT = defineScript('rate-limit', new URL('./rate-limit.lua', import.meta.url), (ctx, keys, args) => {
  const nowUs = args[0] ? Number(args[0]) : ctx.now() * 1000
  const nowMs = Math.floor(nowUs / 1000)
  const peek = args[1] === 'p'
  const outcomes = keys.map((key, i) => {
    const b = 2 + i * 5
    const rule: RuleArgs = {
      algo: args[b] as AlgorithmCode,
      limit: Number(args[b + 1]),
      windowMs: Number(args[b + 2]),
      param: Number(args[b + 3]),
      cost: Number(args[b + 4]),
    }
    return { rule, outcome: evaluateRule(ctx.get(key) as number[] | undefined, rule, nowUs) }
  })
  const all = outcomes.every(({ outcome }) => outcome.allowed)
  const commit = all && !peek
  const reply: DecisionReply = [all ? 1 : 0]
  outcomes.forEach(({ rule, outcome }, i) => {
    if (commit && rule.cost > 0) ctx.set(keys[i] as string, outcome.state, outcome.expireAtMs - nowMs)
    reply.push(
      outcome.allowed ? 1 : 0,
      commit ? outcome.remainingAfter : outcome.remainingBefore,
      commit ? outcome.resetAfter : outcome.resetBefore,
      outcome.retryMs,
    )
  })
  return reply
})

/** Arguments for RATE_LIMIT: `nowUs` only in tests and replays; production takes the store's time. */
export function scriptArgs(rules: readonly RuleArgs[], mode: 'c' | 'p', nowUs?: number): Array<string | number> {
  const args: Array<string | number> = [nowUs === undefined ? '' : nowUs, mode]
  for (const rule of rules) args.push(rule.algo, rule.limit, rule.windowMs, rule.param, rule.cost)
  return args
}
