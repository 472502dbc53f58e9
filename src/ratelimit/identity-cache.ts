import { safeIdentifier } from '../stores/keys.js'

/**
 * Rule keys kept per generation by a limiter's {@link IdentityCache}: at most a few MB outside any
 * store's budget (keys are at most ~300 characters; a state the memory store has evicted since stays
 * reachable from here, a few hundred bytes, until its identity is next decided or its generation is
 * dropped).
 */
export const IDENTITY_CACHE = 2048

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
