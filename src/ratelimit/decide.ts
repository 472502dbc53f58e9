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

/** A rule as the script takes it once per call: everything but the cost, which each decision brings. */
export type RuleSpec = Omit<RuleArgs, 'cost'>

/**
 * The TypeScript twin of rate-limit.lua: a batch of decisions of one limiter at one time, in order,
 * each seeing what the earlier ones wrote. Arguments and reply as documented in the script.
 */
export const RATE_LIMIT = defineScript('rate-limit', new URL('./rate-limit.lua', import.meta.url), (ctx, keys, args) => {
  const count = Number(args[1])
  const specs: RuleSpec[] = []
  for (let i = 0; i < count; i++) {
    const b = 2 + i * 4
    specs.push({ algo: args[b] as AlgorithmCode, limit: Number(args[b + 1]), windowMs: Number(args[b + 2]), param: Number(args[b + 3]) })
  }
  const nowUs = args[0] ? Number(args[0]) : ctx.now() * 1000
  const reply: number[] = []
  let k = 0
  for (let a = 2 + 4 * count; a < args.length; a += 1 + count) {
    const rules = specs.map((spec, i): RuleArgs => ({ ...spec, cost: Number(args[a + 1 + i]) }))
    for (const value of decideRules(ctx, keys.slice(k, k + count), rules, nowUs, args[a] as DecideMode)) reply.push(value)
    k += count
  }
  return reply
}, { crossSlot: true })

/**
 * The arguments every decision of one call shares: the time override (`nowUs` only in tests and
 * replays; production takes the store's time), then the rules. Decisions follow, from {@link pushDecision}.
 */
export function ruleArgs(rules: readonly RuleSpec[], nowUs?: number): Array<string | number> {
  const args: Array<string | number> = [nowUs === undefined ? '' : nowUs, rules.length]
  for (const rule of rules) args.push(rule.algo, rule.limit, rule.windowMs, rule.param)
  return args
}

/** Appends one decision (its mode and one cost per rule) to a call's arguments. */
export function pushDecision(args: Array<string | number>, mode: DecideMode, costs: readonly number[]): void {
  args.push(mode)
  for (const cost of costs) args.push(cost)
}

/** Arguments for a call of one decision. */
export function scriptArgs(rules: readonly RuleArgs[], mode: DecideMode, nowUs?: number): Array<string | number> {
  const args = ruleArgs(rules, nowUs)
  pushDecision(
    args,
    mode,
    rules.map((rule) => rule.cost),
  )
  return args
}
