import { createHash } from 'node:crypto'
import { safeIdentifier } from '../stores/keys.js'
import type { NormalizedRule } from './options.js'

/** Joined rule names longer than this are hashed: a key stays short whatever the rules are called. */
const MAX_PARTS = 128

/**
 * Which rules share a key on a remote store. A limiter's unscoped rules count the same identity, so
 * their states live side by side in one value: a decision of three rules reads and writes one key,
 * not three (on Redis each GET and SET costs more than the arithmetic of a rule). A limiter with one
 * unscoped rule keeps the key that rule always had.
 *
 * A scoped rule keeps a key of its own, named by the rule alone: limiters with different rules
 * share its counter through that name (the gateway's per-user limits are one counter across a
 * tenant's keys, whatever other limits each key has), which a key naming its siblings would split.
 *
 * A shared key names its rules (`a:f+b:s`; no rule's own key part contains `+`), so a limiter whose
 * unscoped rules change starts those counters afresh rather than reading another layout's bytes.
 */
export class StateGroups {
  /** Per rule, its group, from 1: the index of its key among a decision's keys (the script's ARGV). */
  readonly ofRule: readonly number[]
  /** Per group: the key's last part, and the scope whose value ends it (none for the unscoped rules). */
  readonly #parts: ReadonlyArray<{ part: string; scope: string | undefined }>

  constructor(rules: readonly NormalizedRule[]) {
    const parts: Array<{ part: string; scope: string | undefined }> = []
    const unscoped = rules.filter((rule) => rule.scope === undefined)
    if (unscoped.length > 0) {
      const joined = unscoped.map((rule) => rule.keyPart).join('+')
      parts.push({ part: joined.length <= MAX_PARTS ? joined : `+${createHash('sha256').update(joined).digest('base64url').slice(0, 22)}`, scope: undefined })
    }
    this.ofRule = rules.map((rule) => {
      if (rule.scope === undefined) return 1
      parts.push({ part: rule.keyPart, scope: rule.scope })
      return parts.length
    })
    this.#parts = parts
  }

  /** A decision's keys for `id`, one per group, all with the identity as Cluster hash tag. */
  keys(keyHead: string, id: string, scopes: Record<string, string> | undefined): string[] {
    return this.#parts.map(({ part, scope }) => {
      const key = `${keyHead}{${id}}:${part}`
      return scope === undefined ? key : `${key}:${safeIdentifier(scopeValue(scopes, scope))}`
    })
  }
}

/**
 * A call's value for `scope`, own properties only (a scope named `constructor` is a scope); `-` for
 * none, an own property set to undefined included (as `consume` charges it: nothing).
 */
export function scopeValue(scopes: Record<string, string> | undefined, scope: string): string {
  const value = scopes !== undefined && Object.hasOwn(scopes, scope) ? scopes[scope] : undefined
  return value === undefined ? '-' : value
}
