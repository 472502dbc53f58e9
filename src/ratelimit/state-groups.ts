import { createHash } from 'node:crypto'
import { safeIdentifier } from '../stores/keys.js'
import type { NormalizedRule } from './options.js'

/** Joined rule names longer than this are hashed: a key stays short whatever the rules are called. */
const MAX_PARTS = 128

/**
 * Which rules share a key on a remote store. Rules of one scope (or none) count the same thing, the
 * identity or the identity's scope value, so their states live side by side in one value: a
 * decision of three rules reads and writes one key, not three (on Redis each GET and SET costs more
 * than the arithmetic of a rule). A scope with one rule keeps the key that rule always had.
 *
 * A shared key names its rules (`a:f+b:s`; no rule's own key part contains `+`), so a limiter whose
 * rules change starts those counters afresh rather than reading another layout's bytes.
 */
export class StateGroups {
  /** Per rule, its group, from 1: the index of its key among a decision's keys (the script's ARGV). */
  readonly ofRule: readonly number[]
  /** Per group: the key's last part, and the scope whose value ends it (none for unscoped rules). */
  readonly #parts: ReadonlyArray<{ part: string; scope: string | undefined }>

  constructor(rules: readonly NormalizedRule[]) {
    const byScope = new Map<string | undefined, NormalizedRule[]>()
    for (const rule of rules) {
      const members = byScope.get(rule.scope)
      if (members === undefined) byScope.set(rule.scope, [rule])
      else members.push(rule)
    }
    const scopes = [...byScope.keys()]
    this.ofRule = rules.map((rule) => scopes.indexOf(rule.scope) + 1)
    this.#parts = [...byScope].map(([scope, members]) => {
      const joined = members.map((rule) => rule.keyPart).join('+')
      return { part: joined.length <= MAX_PARTS ? joined : `+${createHash('sha256').update(joined).digest('base64url').slice(0, 22)}`, scope }
    })
  }

  /** A decision's keys for `id`, one per group, all with the identity as Cluster hash tag. */
  keys(keyHead: string, id: string, scopes: Record<string, string> | undefined): string[] {
    return this.#parts.map(({ part, scope }) => {
      const key = `${keyHead}{${id}}:${part}`
      return scope === undefined ? key : `${key}:${safeIdentifier(scopes?.[scope] ?? '-')}`
    })
  }
}
