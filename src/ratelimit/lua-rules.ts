import type { AlgorithmCode } from './algorithms.js'

/**
 * The three algorithms as Lua fragments for a script built for one shape of rules (see
 * specialised-script.ts): the functions of rate-limit.lua written out for one rule, its state in
 * Lua locals instead of tables and its per-call arithmetic hoisted out of the decision loop. Every
 * expression keeps the order of operations of rate-limit.lua and algorithms.ts, so the three stay
 * comparable line for line and the differential test holds them to identical replies and expiries.
 *
 * Names a fragment may use: `now_us`, `now_ms`, `floor`, `ceil`, `max`, `min`; the rule's arguments
 * `L<i>` (limit), `W<i>` (window ms), `P<i>` (buckets or burst); its cost `x<i>`. Names it defines
 * for the driver: `ok<i>` (allowed), `rt<i>` (retry ms), `za<i>` (reset after committing), `ex<i>`
 * (the committed state's expiry, absolute ms), `sm<i>` (whether that expiry is the stored one's).
 */

/** Where a rule's stored numbers are in the script being built. */
export interface RuleSite {
  /** The rule's index from 1: its arguments' block and the suffix of its names. */
  readonly i: number
  readonly algo: AlgorithmCode
  /** Sliding window: buckets per window, written out one local each. */
  readonly buckets: number
  /** Lua names holding the rule's stored numbers; read only when `have` holds. */
  readonly old: readonly string[]
  /** A Lua expression that holds when the stored numbers are there and of this layout. */
  readonly have: string
}

/** One rule's part of the script. */
export interface RuleCode {
  /** Once per call, before the decisions: what depends on the rule and the time only. */
  readonly perCall: string[]
  readonly perDecision: string[]
  /** Lua names of the state to commit, in the layout the key stores. */
  readonly state: readonly string[]
  /** Lua expressions of remaining and reset (ms) as if not committed, valid after `perDecision`. */
  readonly before: readonly [string, string]
  /** The same as if committed. */
  readonly after: readonly [string, string]
}

/** How many numbers a rule's state has (fixed [index, count], sliding [k, n + 1 counts], token [TAT]). */
export function stateWidth(algo: AlgorithmCode, buckets: number): number {
  return algo === 'f' ? 2 : algo === 's' ? buckets + 2 : 1
}

export function ruleCode(site: RuleSite): RuleCode {
  if (site.algo === 'f') return fixedWindow(site)
  if (site.algo === 's') return slidingWindow(site)
  return tokenBucket(site)
}

/** Inside one window the expiry does not move: it is the window's end, set by the write that opened it. */
function fixedWindow({ i, old, have }: RuleSite): RuleCode {
  const [oldIdx, oldCount] = old as [string, string]
  return {
    perCall: [`local idx${i} = floor(now_ms / W${i})`, `local end${i} = (idx${i} + 1) * W${i} - now_ms`],
    perDecision: [
      // The window's index again, per decision: a rule charged nothing in a shared key puts its
      // stored numbers back in its state's names, and idx<i> serves the whole call.
      `local window${i}, count${i}, sm${i} = idx${i}, 0, false`,
      `if ${have} and ${oldIdx} == idx${i} then`,
      `  count${i} = ${oldCount}`,
      `  sm${i} = true`,
      'end',
      `local after${i} = max(0, count${i} + x${i})`,
      `local ok${i} = x${i} <= L${i} and after${i} <= L${i}`,
      `local rt${i} = 0`,
      `if x${i} > L${i} then rt${i} = -1 elseif not ok${i} then rt${i} = end${i} end`,
      `local za${i} = 0`,
      `if after${i} > 0 then za${i} = end${i} end`,
      `local ex${i} = (idx${i} + 1) * W${i}`,
    ],
    state: [`window${i}`, `after${i}`],
    before: [`max(0, L${i} - count${i})`, `(count${i} > 0 and end${i} or 0)`],
    after: [`max(0, L${i} - after${i})`, `za${i}`],
  }
}

/** The expiry follows the arrival time, which every decision moves: never the same. */
function tokenBucket({ i, old, have }: RuleSite): RuleCode {
  const [oldTat] = old as [string]
  return {
    perCall: [`local t${i} = ceil((W${i} * 1000) / L${i})`, `local tolerance${i} = P${i} * t${i}`],
    perDecision: [
      `local tat${i} = now_us`,
      `if ${have} and ${oldTat} > now_us then tat${i} = ${oldTat} end`,
      `local new${i} = tat${i} + x${i} * t${i}`,
      `if new${i} < now_us then new${i} = now_us end`,
      `local at${i} = new${i} - tolerance${i}`,
      `local ok${i} = x${i} <= P${i} and at${i} <= now_us`,
      `local rt${i} = 0`,
      `if x${i} > P${i} then rt${i} = -1 elseif not ok${i} then rt${i} = ceil((at${i} - now_us) / 1000) end`,
      `local za${i} = ceil((new${i} - now_us) / 1000)`,
      `local ex${i}, sm${i} = max(now_ms + 1, ceil(new${i} / 1000)), false`,
    ],
    state: [`new${i}`],
    before: [`max(0, floor((tolerance${i} - (tat${i} - now_us)) / t${i}))`, `ceil((tat${i} - now_us) / 1000)`],
    after: [`max(0, floor((tolerance${i} - (new${i} - now_us)) / t${i}))`, `za${i}`],
  }
}

/**
 * Buckets k, k-1, ..., k-n as locals `c<i>_0` .. `c<i>_n`. The rare steps that index buckets by a
 * number known only at run time (the window moved, a refusal's retry) go through a table made then.
 */
function slidingWindow({ i, old, have, buckets: n }: RuleSite): RuleCode {
  const [oldK, ...oldCounts] = old as [string, ...string[]]
  const counts = range(n).map((b) => `c${i}_${b}`)
  const list = counts.join(', ')
  // Time until the newest non-empty bucket leaves the window (sliding_reset in rate-limit.lua).
  const reset = (target: string): string[] =>
    counts.map((c, b) => `${b === 0 ? 'if' : 'elseif'} ${c} > 0 then ${target} = ceil(((k${i} - ${b} + 1) * W${i}) / P${i} + W${i} - now_ms)`).concat('end')
  return {
    perCall: [`local now_k${i} = floor((now_ms * P${i}) / W${i})`],
    perDecision: [
      `local k${i}, sm${i}, sum${i} = now_k${i}, false, 0`,
      `local ${list} = ${counts.map(() => '0').join(', ')}`,
      `if ${have} then`,
      `  local shift = k${i} - ${oldK}`,
      '  if shift < 0 then',
      '    shift = 0',
      `    k${i} = ${oldK}`,
      '  end',
      `  sm${i} = shift == 0`,
      '  if shift == 0 then',
      `    ${list} = ${oldCounts.join(', ')}`,
      '  else',
      // The stored buckets, moved `shift` places older; the ones that fell out of the window drop.
      `    local o = { ${oldCounts.join(', ')} }`,
      ...counts.map((c, b) => `    if ${b} >= shift then ${c} = o[1 + ${b} - shift] end`),
      '  end',
      `  sum${i} = ${counts.join(' + ')}`,
      'end',
      `local ok${i} = x${i} <= L${i} and sum${i} + x${i} <= L${i}`,
      `local rt${i} = 0`,
      `if x${i} > L${i} then`,
      `  rt${i} = -1`,
      `elseif not ok${i} then`,
      `  local need, freed, o = sum${i} + x${i} - L${i}, 0, { ${list} }`,
      `  for b = ${n}, 0, -1 do`,
      '    freed = freed + o[b + 1]',
      '    if freed >= need then',
      `      rt${i} = ceil(((k${i} - b + 1) * W${i}) / P${i} + W${i} - now_ms)`,
      '      break',
      '    end',
      '  end',
      'end',
      `local zb${i} = 0`,
      ...reset(`zb${i}`),
      `local sa${i}, za${i} = sum${i} + x${i}, 0`,
      `if x${i} >= 0 then`,
      // The units go to the newest bucket, the only count that changes.
      `  local newest = c${i}_0 + x${i}`,
      `  if newest > 0 then za${i} = ceil(((k${i} + 1) * W${i}) / P${i} + W${i} - now_ms) else za${i} = zb${i} end`,
      `  c${i}_0 = newest`,
      'else',
      // A refund comes out of the newest buckets first: that is where the estimate was charged.
      `  local refund = -x${i}`,
      ...counts.map((c) => `  if refund > 0 then local take = min(${c}, refund); ${c} = ${c} - take; refund = refund - take end`),
      `  sa${i} = sum${i} + x${i} + refund`,
      ...reset(`za${i}`).map((line) => `  ${line}`),
      'end',
      `local ex${i} = ceil(((k${i} + 1) * W${i}) / P${i} + W${i})`,
    ],
    state: [`k${i}`, ...counts],
    before: [`max(0, L${i} - sum${i})`, `zb${i}`],
    after: [`max(0, L${i} - sa${i})`, `za${i}`],
  }
}

/** 0, 1, ..., n. */
function range(n: number): number[] {
  return Array.from({ length: n + 1 }, (_, b) => b)
}
