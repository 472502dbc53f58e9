import { safeIdentifier } from '../stores/keys.js'
import { scopeValue } from './state-groups.js'

/**
 * Rule keys kept per generation by a limiter's {@link IdentityCache}: at most a few MB outside any
 * store's budget (keys are at most ~300 characters; a state the memory store has evicted since stays
 * reachable from here, a few hundred bytes, until its identity is next decided or its generation is
 * dropped).
 */
export const IDENTITY_CACHE = 2048

/**
 * Bytes of rule states and keys a memory-store limiter keeps per generation, at most: a kept state
 * stays reachable after the store evicted it (until its identity is next decided), so without this
 * a flood of identities or scope values with large states (a 1,000-bucket sliding window is 8 KB)
 * would hold tens of MB outside the store's budget.
 */
export const IDENTITY_CACHE_BYTES = 1 << 20
/** A kept rule key's bytes, at most (about 300 characters, two bytes each). */
const KEY_BYTES = 640

/**
 * Identities a memory-store limiter keeps per generation: {@link IDENTITY_CACHE} divided by its
 * rules, no more than {@link IDENTITY_CACHE_BYTES} of their states (`stateBytes`, one per rule) and
 * keys, and 64 at least.
 */
export function keptIdentities(stateBytes: readonly number[]): number {
  let perIdentity = 0
  for (const bytes of stateBytes) perIdentity += bytes + KEY_BYTES
  return Math.max(64, Math.min(Math.floor(IDENTITY_CACHE / stateBytes.length), Math.floor(IDENTITY_CACHE_BYTES / perIdentity)))
}

/**
 * What a limiter derives from an identity (its store keys, the states under them), for the
 * identities decided recently: a hot identity's next decision finds it with one lookup by the
 * caller's own key, without safeIdentifier() and without building its keys again (string joins the
 * store would flatten on every call, and garbage the collector then pauses for).
 *
 * Two generations of at most `max` entries each: when the young one is full it becomes the old one
 * and the previous old one is dropped, so memory stays bounded without per-entry bookkeeping, and an
 * identity in use stays, as each use moves it to the young generation.
 */
export class IdentityCache<V> {
  #young = new Map<string, V>()
  #old = new Map<string, V>()
  readonly #max: number
  readonly #make: (id: string) => V

  constructor(max: number, make: (id: string) => V) {
    this.#max = max
    this.#make = make
  }

  /** The value for `key` (the caller's key or its identity), made from the identity when not kept. */
  get(key: string): V {
    // Only identities are kept, and an identity is its own: a key found here needs no safeIdentifier().
    let value = this.#young.get(key)
    if (value !== undefined) return value
    const id = safeIdentifier(key)
    value = this.#old.get(id) ?? (id === key ? undefined : this.#young.get(id)) ?? this.#make(id)
    if (this.#young.size >= this.#max) {
      this.#old = this.#young
      this.#young = new Map()
    }
    this.#young.set(id, value)
    return value
  }
}

/** The longest key or scope value (characters) a {@link ScopedIdentityCache} keeps. */
const MAX_PART = 128

/** The values of a call's scopes, one level per scope the limiter's rules use. */
type ScopeTree<V> = Map<string, ScopeTree<V> | V>

/**
 * {@link IdentityCache} for calls with scopes: a value per caller's key and the call's value of each
 * scope the rules use (`-` for none), looked up one level per part. The parts are strings the caller
 * already holds (a gateway's tenant and key names come from its config), whose hashes V8 keeps, so a
 * hot call finds its keys without joining a string and hashing it afresh. Bounded as IdentityCache is:
 * two generations of at most `max` values, however many levels hold them (end users' ids as scope
 * values may flood it; the flood only evicts). A call with a part longer than {@link MAX_PART} is not
 * kept, so what the cache holds stays a few MB whatever callers send.
 */
export class ScopedIdentityCache<V extends object> {
  #young: ScopeTree<V> = new Map()
  #old: ScopeTree<V> = new Map()
  #size = 0
  readonly #max: number
  readonly #scopes: readonly string[]
  /** The call's value of each scope, read once per call (see {@link get}). */
  readonly #values: string[]
  readonly #make: (id: string, scopes: Record<string, string>) => V

  /** @param scopes The scopes the rules use, each once: the levels below the caller's key. */
  constructor(max: number, scopes: readonly string[], make: (id: string, scopes: Record<string, string>) => V) {
    this.#max = max
    this.#scopes = scopes
    this.#values = scopes.map(() => '-')
    this.#make = make
  }

  /** The value for `key` (the caller's key) and `scopes`, made from its identity when not kept. */
  get(key: string, scopes: Record<string, string>): V {
    // Each value is read once: a getter that answered differently between the lookup and the
    // making of the keys would file one scope value's keys under another's.
    const values = this.#values
    let keepable = key.length <= MAX_PART
    for (let i = 0; i < values.length; i++) {
      const value = scopeValue(scopes, this.#scopes[i] as string)
      values[i] = value
      if (value.length > MAX_PART) keepable = false
    }
    if (!keepable) return this.#make(safeIdentifier(key), this.#snapshot())
    const found = this.#find(this.#young, key)
    if (found !== undefined) return found
    const value = this.#find(this.#old, key) ?? this.#make(safeIdentifier(key), this.#snapshot())
    if (this.#size >= this.#max) {
      this.#old = this.#young
      this.#young = new Map()
      this.#size = 0
    }
    let level = this.#young
    for (let i = -1; i < values.length - 1; i++) {
      const part = i < 0 ? key : (values[i] as string)
      let next = level.get(part) as ScopeTree<V> | undefined
      if (next === undefined) level.set(part, (next = new Map()))
      level = next
    }
    level.set(values[values.length - 1] as string, value)
    this.#size++
    return value
  }

  /** The scope values just read, as the scopes the keys are made of. */
  #snapshot(): Record<string, string> {
    const scopes: Record<string, string> = Object.create(null)
    for (let i = 0; i < this.#values.length; i++) scopes[this.#scopes[i] as string] = this.#values[i] as string
    return scopes
  }

  #find(tree: ScopeTree<V>, key: string): V | undefined {
    let level = tree.get(key)
    for (let i = 0; i < this.#values.length && level !== undefined; i++) level = (level as ScopeTree<V>).get(this.#values[i] as string)
    return level as V | undefined
  }
}
