/**
 * Which keys already had their refusal reported, and until when: a flood of messages in one refusal
 * period calls `onLimitExceeded` once. Bounded, because keys come from Telegram users: past `maxKeys`
 * the oldest entry is forgotten (at worst, that key is reported once more).
 */
export class RefusalReports {
  readonly #until = new Map<string, number>()

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True (and remembered for `ttlMs`) when `key` has no report still running; false otherwise. */
  claim(key: string, ttlMs: number): boolean {
    const now = this.now()
    const until = this.#until.get(key)
    if (until !== undefined && until > now) return false
    this.#until.delete(key)
    if (this.#until.size >= this.maxKeys) {
      const oldest = this.#until.keys().next().value
      if (oldest !== undefined) this.#until.delete(oldest)
    }
    this.#until.set(key, now + ttlMs)
    return true
  }
}
