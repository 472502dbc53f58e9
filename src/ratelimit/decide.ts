import { defineScript } from '../stores/script.js'
import type { MemoryScriptContext } from '../stores/types.js'
import { type AlgorithmCode, evaluateRule, type RuleArgs, type RuleOutcome } from './algorithms.js'

/** 'c' consume, 'p' peek (write nothing), 'f' force (write whatever the outcome; costs may be negative). */
export type DecideMode = 'c' | 'p' | 'f'

/** Numbers of a rule's state: fixed window [index, count], sliding window [k, n + 1 counts], token bucket [TAT]. */
function stateLength(rule: RuleSpec): number {
  return rule.algo === 'f' ? 2 : rule.algo === 's' ? rule.param + 2 : 1
}

/**
 * Decides every rule of one request, all or nothing, over the memory store's entries; the twin of
 * rate-limit.lua. `groups[i]` is the index (from 1) in `keys` of rule i's state: a key of several
 * rules holds their states side by side, all or none. The reply is flat integers, as the script's:
 * all-allowed, then per rule allowed, remaining, reset ms, retry ms; allowed and retry left out
 * when every rule allows (see {@link replyWidth}).
 */
export function decideRules(ctx: MemoryScriptContext, keys: string[], rules: readonly RuleArgs[], groups: readonly number[], nowUs: number, mode: DecideMode): number[] {
  const nowMs = Math.floor(nowUs / 1000)
  const members = keys.map((_, g) => rules.flatMap((_rule, i) => (groups[i] === g + 1 ? [i] : [])))
  const olds: Array<number[] | undefined> = rules.map(() => undefined)
  // Per group of several rules: the expiry its key has (0 for none), the first of its numbers.
  const kept = keys.map(() => 0)
  members.forEach((group, g) => {
    const raw = ctx.get(keys[g] as string) as number[] | undefined
    if (group.length === 1) olds[group[0] as number] = raw
    else if (raw !== undefined && raw.length === group.reduce((sum, i) => sum + stateLength(rules[i] as RuleArgs), 1)) {
      // A key of several rules starts with its own expiry (see the script).
      kept[g] = raw[0] as number
      let offset = 1
      for (const i of group) {
        const length = stateLength(rules[i] as RuleArgs)
        olds[i] = raw.slice(offset, offset + length)
        offset += length
      }
    }
  })
  const outcomes = rules.map((rule, i) => evaluateRule(olds[i], rule, nowUs))
  const all = outcomes.every((outcome) => outcome.allowed)
  const commit = mode === 'f' || (all && mode === 'c')
  if (commit) {
    members.forEach((group, g) => {
      const key = keys[g] as string
      if (group.length === 1) {
        const i = group[0] as number
        if ((rules[i] as RuleArgs).cost !== 0) ctx.set(key, (outcomes[i] as RuleOutcome).state, (outcomes[i] as RuleOutcome).expireAtMs - nowMs)
      } else if (group.some((i) => (rules[i] as RuleArgs).cost !== 0)) {
        // A rule that takes nothing keeps its state; the latest expiry covers it (see the script).
        const states = group.flatMap((i) => ((rules[i] as RuleArgs).cost === 0 && olds[i] !== undefined ? (olds[i] as number[]) : (outcomes[i] as RuleOutcome).state))
        // A rule that takes nothing and holds nothing (reset 0) does not stretch the key (see the script).
        const holding = group.filter((i) => (rules[i] as RuleArgs).cost !== 0 || (outcomes[i] as RuleOutcome).resetAfter > 0)
        const expireAtMs = Math.max(...holding.map((i) => (outcomes[i] as RuleOutcome).expireAtMs))
        // The key's expiry is kept while it covers the rules' need, else moved a little past it (`padded`).
        const keyExpiry = expireAtMs <= (kept[g] as number) ? (kept[g] as number) : padded(expireAtMs, nowMs)
        ctx.set(key, [keyExpiry, ...states], keyExpiry - nowMs)
      }
    })
  }
  const reply = [all ? 1 : 0]
  outcomes.forEach((outcome) => {
    if (!all) reply.push(outcome.allowed ? 1 : 0)
    reply.push(commit ? outcome.remainingAfter : outcome.remainingBefore, commit ? outcome.resetAfter : outcome.resetBefore)
    if (!all) reply.push(outcome.retryMs)
  })
  return reply
}

/**
 * How many numbers one decision takes in a reply of the script, from whether all its rules allowed
 * (its first number): an allowed decision leaves out each rule's allowed (1) and retry (0), the
 * common case, and every number of a reply costs both the server and the client.
 */
export function replyWidth(allowed: boolean, rules: number): number {
  return allowed ? 1 + 2 * rules : 1 + 4 * rules
}

/**
 * A shared key's expiry past `expireAtMs`, the latest its rules need: a later write whose need still
 * fits keeps the key's expiry (SET KEEPTTL costs half of SET PXAT on Redis). The key outlives its
 * state by at most a second or an eighth of its life; a state past its own expiry decides as none.
 */
function padded(expireAtMs: number, nowMs: number): number {
  return expireAtMs + Math.max(1000, Math.ceil((expireAtMs - nowMs) / 8))
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
  const groups: number[] = []
  for (let i = 0; i < count; i++) {
    const b = 2 + i * 5
    specs.push({ algo: args[b] as AlgorithmCode, limit: Number(args[b + 1]), windowMs: Number(args[b + 2]), param: Number(args[b + 3]) })
    groups.push(Number(args[b + 4]))
  }
  const width = Math.max(...groups)
  const nowUs = args[0] ? Number(args[0]) : ctx.now() * 1000
  const reply: number[] = []
  let k = 0
  for (let a = 2 + 5 * count; a < args.length; ) {
    const mode = String(args[a])
    const unit = mode !== mode.toLowerCase()
    const rules = specs.map((spec, i): RuleArgs => ({ ...spec, cost: unit ? 1 : Number(args[a + 1 + i]) }))
    for (const value of decideRules(ctx, keys.slice(k, k + width), rules, groups, nowUs, mode.toLowerCase() as DecideMode)) reply.push(value)
    k += width
    a += unit ? 1 : 1 + count
  }
  return reply
}, { crossSlot: true })

/**
 * The arguments every decision of one call shares: the time override (`nowUs` only in tests and
 * replays; production takes the store's time), then the rules, each with its group (the index, from
 * 1, of the decision's key that holds its state; default: a key per rule). Decisions follow, from
 * {@link pushDecision}.
 */
export function ruleArgs(rules: readonly RuleSpec[], nowUs?: number, groups: readonly number[] = rules.map((_, i) => i + 1)): Array<string | number> {
  const args: Array<string | number> = [nowUs === undefined ? '' : nowUs, rules.length]
  rules.forEach((rule, i) => args.push(rule.algo, rule.limit, rule.windowMs, rule.param, groups[i] as number))
  return args
}

/** A decision whose every rule costs 1 travels as its mode in upper case alone (see the script). */
const UNIT_COSTS = { c: 'C', p: 'P', f: 'F' } as const

/** Appends one decision (its mode and one cost per rule) to a call's arguments. */
export function pushDecision(args: Array<string | number>, mode: DecideMode, costs: readonly number[]): void {
  let unit = true
  for (const cost of costs) if (cost !== 1) unit = false
  if (unit) {
    args.push(UNIT_COSTS[mode])
    return
  }
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
