import type { StoreScript } from '../stores/types.js'
import { crossSlotVariant, scriptOf } from '../stores/script.js'
import { RATE_LIMIT, type RuleSpec } from './decide.js'
import { ruleCode, type RuleCode, type RuleSite, stateWidth } from './lua-rules.js'

/**
 * rate-limit.lua written out for one shape of rules (their algorithms, a sliding window's bucket
 * count, which key holds which rule): the same arguments, reply, keys and expiries, without the
 * generic driver. Measured inside Redis on this machine, three rules in one key went from 6.1 to
 * 3.7 µs a decision: the generic script unpacks each key into a new table, calls each algorithm
 * through a table with eight results stored into eight more, and loops over its rules' layout on
 * every decision; here the numbers stay in Lua locals (registers), the per-call arithmetic (a
 * window's index, a bucket's interval) runs once per call, and nothing is allocated per decision
 * on the common path.
 *
 * Limits and windows still come as arguments, so one script serves every limiter of a shape, and
 * the memory store runs the same TypeScript twin as for the generic script.
 */

/**
 * Lua allows 200 local variables and 250 registers in a function, and a sliding window's buckets are
 * a local each: a shape that would need more than this many locals, or than this many registers with
 * the temporaries of its widest state, is decided by the generic script instead. The test of the
 * largest shapes built runs them on Redis.
 */
const MAX_LOCALS = 180
const MAX_REGISTERS = 240

/** Shapes built so far. Shapes come from limiter configurations, not from clients: a handful. */
const built = new Map<string, StoreScript<number[]>>()
const MAX_SHAPES = 64

/**
 * The script that decides for these rules: one built for their shape, or the generic rate-limit.lua
 * when the shape needs more locals than Lua allows. `groups` as in {@link ruleArgs}.
 */
export function decideScript(rules: readonly RuleSpec[], groups: readonly number[] = rules.map((_, i) => i + 1)): StoreScript<number[]> {
  const shape = rules.map((rule, i) => `${rule.algo}${rule.algo === 's' ? rule.param : ''}:${groups[i]}`).join(',')
  const known = built.get(shape)
  if (known !== undefined) return known
  const lua = buildLua(rules, groups)
  if (lua === undefined) return RATE_LIMIT
  // The generic script's name: it labels the store's command metrics, which must not grow with the shapes.
  const script = scriptOf(RATE_LIMIT.name, lua, RATE_LIMIT.memory)
  const withCrossSlot = { ...script, crossSlot: crossSlotVariant(lua) }
  if (built.size < MAX_SHAPES) built.set(shape, withCrossSlot)
  return withCrossSlot
}

interface Group {
  readonly rules: number[]
  /** Lua names of its stored numbers; a key of several rules starts with its own expiry. */
  readonly old: string[]
  readonly have: string
}

function buildLua(rules: readonly RuleSpec[], groups: readonly number[]): string | undefined {
  const count = Math.max(...groups)
  const members: Group[] = []
  for (let g = 1; g <= count; g++) {
    const inGroup = rules.flatMap((_, i) => (groups[i] === g ? [i + 1] : []))
    const shared = inGroup.length > 1
    const width = inGroup.reduce((sum, i) => sum + stateWidth((rules[i - 1] as RuleSpec).algo, (rules[i - 1] as RuleSpec).param), shared ? 1 : 0)
    members.push({ rules: inGroup, old: Array.from({ length: width }, (_, x) => `g${g}_${x + 1}`), have: `h${g}` })
  }
  if (members.some((group) => group.rules.length === 0)) return undefined
  // Counted from what the code below declares at its deepest: the header's 12, a rule's 3 arguments
  // and up to 2 constants, the loop's mode and costs, a key's 3 and its numbers, a rule's 8 (a
  // sliding window's 9 and its counts), and the write's 6.
  const locals = 12 + 5 * rules.length + 1 + rules.length + members.reduce((sum, group) => sum + 3 + group.old.length, 0) +
    rules.reduce((sum, rule) => sum + (rule.algo === 's' ? 10 + rule.param : 8), 0) + 8
  const widest = Math.max(...members.map((group) => group.old.length))
  if (locals > MAX_LOCALS || locals + widest + 10 > MAX_REGISTERS) return undefined
  const sites: RuleSite[] = []
  for (const group of members) {
    let offset = group.rules.length > 1 ? 1 : 0
    for (const i of group.rules) {
      const rule = rules[i - 1] as RuleSpec
      const width = stateWidth(rule.algo, rule.param)
      sites[i - 1] = { i, algo: rule.algo, buckets: rule.param, old: group.old.slice(offset, offset + width), have: group.have }
      offset += width
    }
  }
  const codes = sites.map(ruleCode)
  const costs = rules.map((_, r) => `x${r + 1}`).join(', ')
  return [
    ...header(rules, groups),
    ...codes.flatMap((code) => code.perCall),
    ...readStates(count),
    'local UNIT_COSTS = { C = true, P = true, F = true }',
    `local reply, n, a, k = {}, 0, ${3 + 5 * rules.length}, 0`,
    'while a <= #ARGV do',
    '  local mode = ARGV[a]',
    `  local ${costs} = ${rules.map(() => '1').join(', ')}`,
    '  if UNIT_COSTS[mode] then',
    '    mode = string.lower(mode)',
    '    a = a + 1',
    '  else',
    `    ${costs} = ${rules.map((_, r) => `tonumber(ARGV[a + ${r + 1}])`).join(', ')}`,
    `    a = a + ${1 + rules.length}`,
    '  end',
    ...members.flatMap((group, g) => indent(readGroup(group, g + 1, rules))),
    ...codes.flatMap((code) => indent(code.perDecision)),
    `  local all = ${rules.map((_, r) => `ok${r + 1}`).join(' and ')}`,
    "  local commit = mode == 'f' or (all and mode == 'c')",
    // The reply first: committing below may put a rule's stored numbers back in its names.
    '  if all then',
    ...replyOf(codes, true),
    '  else',
    ...replyOf(codes, false),
    '  end',
    '  if commit then',
    ...members.flatMap((group, g) => indent(indent(writeGroup(group, g + 1, codes.map((code) => code.state))))),
    '  end',
    `  k = k + ${count}`,
    'end',
    'return reply',
    '',
  ].join('\n')
}

/** The time, the helpers, each rule's arguments, and a check that the arguments are of this shape. */
function header(rules: readonly RuleSpec[], groups: readonly number[]): string[] {
  const lines = [
    `-- ${RATE_LIMIT.name}, built for rules ${rules.map((rule) => rule.algo).join(' ')} in keys ${groups.join(' ')}: see specialised-script.ts`,
    'local now_us',
    "if ARGV[1] ~= '' then",
    '  now_us = tonumber(ARGV[1])',
    'else',
    "  local t = redis.call('TIME')",
    '  now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])',
    'end',
    'local now_ms = math.floor(now_us / 1000)',
    'local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min',
  ]
  const expected = [String(rules.length)]
  rules.forEach((rule, r) => {
    const b = 3 + 5 * r
    lines.push(`local L${r + 1}, W${r + 1}, P${r + 1} = tonumber(ARGV[${b + 1}]), tonumber(ARGV[${b + 2}]), tonumber(ARGV[${b + 3}])`)
    expected.push(rule.algo, rule.algo === 's' ? String(rule.param) : '', String(groups[r]))
  })
  // A script found by its SHA but sent another shape's arguments would decide nonsense: refuse.
  const checks = [`ARGV[2] ~= '${expected[0]}'`]
  rules.forEach((rule, r) => {
    const b = 3 + 5 * r
    checks.push(`ARGV[${b}] ~= '${rule.algo}'`, `ARGV[${b + 4}] ~= '${groups[r]}'`)
    if (rule.algo === 's') checks.push(`P${r + 1} ~= ${rule.param}`)
  })
  lines.push(`if ${checks.join(' or ')} then return redis.error_reply('rate-limit: arguments of another shape of rules') end`)
  return lines
}

/** Every state is read before anything is written, as in rate-limit.lua (a Cluster node's non-local key fails the call unchanged). */
function readStates(count: number): string[] {
  if (count === 1) {
    return ['local states = {}', 'for i = 1, #KEYS do', '  local key = KEYS[i]', "  if states[key] == nil then states[key] = redis.call('GET', key) end", 'end']
  }
  const keys = Array.from({ length: count }, (_, g) => `KEYS[b + ${g + 1}]`)
  return [
    'local states = {}',
    `for b = 0, #KEYS - ${count}, ${count} do`,
    `  local raws = redis.call('MGET', ${keys.join(', ')})`,
    ...keys.map((key, g) => `  if states[${key}] == nil then states[${key}] = raws[${g + 1}] end`),
    'end',
  ]
}

/** A key's numbers into locals: a token bucket alone holds text, any other key packed doubles. */
function readGroup(group: Group, g: number, rules: readonly RuleSpec[]): string[] {
  const raw = `raw${g}`
  const lines = [`local key${g} = KEYS[k + ${g}]`, `local ${raw} = states[key${g}]`, `local ${group.old.join(', ')}`]
  const alone = group.rules.length === 1 ? (rules[(group.rules[0] as number) - 1] as RuleSpec) : undefined
  if (alone?.algo === 't') {
    lines.push(`g${g}_1 = ${raw} and tonumber(${raw})`, `local ${group.have} = g${g}_1 and true`)
    return lines
  }
  lines.push(`local ${group.have} = ${raw} and #${raw} == ${8 * group.old.length}`)
  lines.push(`if ${group.have} then ${group.old.join(', ')} = struct.unpack('${'d'.repeat(group.old.length)}', ${raw}) end`)
  return lines
}

/**
 * A key of one rule is written when its rule takes something. A key of several rules is written when
 * any of them does, with its own expiry first, a little past the latest its rules need (`padded` in
 * rate-limit.lua); a rule there that takes nothing keeps its stored numbers.
 */
function writeGroup(group: Group, g: number, states: ReadonlyArray<readonly string[]>): string[] {
  if (group.rules.length === 1) {
    const i = group.rules[0] as number
    const state = states[i - 1] as readonly string[]
    const value = state.length === 1 ? (state[0] as string) : `struct.pack('${'d'.repeat(state.length)}', ${state.join(', ')})`
    return [`if x${i} ~= 0 then`, ...indent(setKey(g, value, `ex${i}`, `sm${i}`)), 'end']
  }
  const lines = [`if ${group.rules.map((i) => `x${i} ~= 0`).join(' or ')} then`, '  local need = 0']
  for (const i of group.rules) {
    const state = states[i - 1] as readonly string[]
    lines.push(`  if x${i} == 0 and ${group.have} then ${state.join(', ')} = ${oldOf(group, i, states).join(', ')} end`)
    lines.push(`  if (x${i} ~= 0 or za${i} > 0) and ex${i} > need then need = ex${i} end`)
  }
  const numbers = ['expiry', ...group.rules.flatMap((i) => states[i - 1] as readonly string[])]
  lines.push(
    `  local kept = ${group.have} and ${group.old[0]} or 0`,
    '  local expiry, same = kept, true',
    // Not `need > kept`: a stored expiry that is no number (NaN, from a foreign or damaged value)
    // must be replaced, as rate-limit.lua's `expire_at <= kept` test does, not kept for ever.
    '  if not (need <= kept) then',
    '    expiry = need + max(1000, ceil((need - now_ms) / 8))',
    '    same = false',
    '  end',
    ...indent(setKey(g, `struct.pack('${'d'.repeat(numbers.length)}', ${numbers.join(', ')})`, 'expiry', 'same')),
    'end',
  )
  return lines
}

/** The stored numbers of rule `i` in its group's names. */
function oldOf(group: Group, i: number, states: ReadonlyArray<readonly string[]>): string[] {
  let offset = 1
  for (const r of group.rules) {
    const width = (states[r - 1] as readonly string[]).length
    if (r === i) return group.old.slice(offset, offset + width)
    offset += width
  }
  return []
}

function setKey(g: number, value: string, expireAt: string, same: string): string[] {
  return [
    `local value = ${value}`,
    `states[key${g}] = value`,
    `if ${same} then redis.call('SET', key${g}, value, 'KEEPTTL') else redis.call('SET', key${g}, value, 'PXAT', ${expireAt}) end`,
  ]
}

/** A decision's reply, `allowed` or not (its rules then leave out allowed and retry: replyWidth in decide.ts). */
function replyOf(codes: readonly RuleCode[], allowed: boolean): string[] {
  return [
    `    reply[n + 1] = ${allowed ? 1 : 0}`,
    '    if commit then',
    ...codes.flatMap((code, r) => replyLines(code.after, r, allowed)),
    '    else',
    ...codes.flatMap((code, r) => replyLines(code.before, r, allowed)),
    '    end',
    `    n = n + ${1 + (allowed ? 2 : 4) * codes.length}`,
  ]
}

/** One rule's part of a decision's reply; `allowed`: the decision's, whose rules then leave out allowed and retry (replyWidth in decide.ts). */
function replyLines([remaining, reset]: readonly [string, string], r: number, allowed: boolean): string[] {
  if (allowed) return [`      reply[n + ${2 + 2 * r}], reply[n + ${3 + 2 * r}] = ${remaining}, ${reset}`]
  const at = 2 + 4 * r
  return [`      reply[n + ${at}], reply[n + ${at + 1}], reply[n + ${at + 2}], reply[n + ${at + 3}] = ok${r + 1} and 1 or 0, ${remaining}, ${reset}, rt${r + 1}`]
}

function indent(lines: readonly string[]): string[] {
  return lines.map((line) => `  ${line}`)
}
