import type { TollgateError } from '../../core/errors.js'
import { safeIdentifier } from '../../stores/keys.js'
import type { Store } from '../../stores/types.js'

/**
 * Flood waits Telegram imposed (a 429 with `retry_after`), per bot or per chat of one bot. Kept in the
 * store with the wait as TTL, so every process sharing it holds back until the wait is over (the
 * store's own clock expires it: no clock comparison between machines), and in process memory too,
 * so a process still honours the waits it was told about while the store is down.
 *
 * Keys: `tg-flood:{<bot>}` and `tg-flood:{<bot>}:<chat>`; the bot is the Cluster hash tag.
 */
export class FloodWaits {
  readonly #local = new Map<string, number>()
  readonly #head: string

  constructor(
    private readonly store: Store,
    bot: string,
    private readonly maxLocal: number,
  ) {
    this.#head = `tg-flood:{${safeIdentifier(bot)}}`
  }

  /** Records a wait of `ms` for the whole bot (`chat` undefined) or for one chat. */
  async record(chat: string | undefined, ms: number): Promise<void> {
    const key = this.#key(chat)
    const until = Date.now() + ms
    if ((this.#local.get(key) ?? 0) < until) {
      this.#local.delete(key)
      if (this.#local.size >= this.maxLocal) this.#prune()
      this.#local.set(key, until)
    }
    try {
      await this.store.set(key, '1', { ttlMs: ms })
    } catch (err) {
      if (!isStoreFailure(err)) throw err
    }
  }

  /** Milliseconds left of the longest wait that holds a call to `chat` (or a chat-less call): 0 for none. */
  async remaining(chat: string | undefined): Promise<number> {
    const keys = chat === undefined ? [this.#head] : [this.#head, this.#key(chat)]
    const now = Date.now()
    let wait = 0
    for (const key of keys) {
      const until = this.#local.get(key)
      if (until === undefined) continue
      if (until <= now) this.#local.delete(key)
      else wait = Math.max(wait, until - now)
    }
    try {
      const ttls = await Promise.all(keys.map((key) => this.store.pttl(key)))
      return Math.max(wait, ...ttls)
    } catch (err) {
      if (!isStoreFailure(err)) throw err
      return wait
    }
  }

  #key(chat: string | undefined): string {
    return chat === undefined ? this.#head : `${this.#head}:${safeIdentifier(chat)}`
  }

  /** Drops expired waits, and the oldest one if none has expired. */
  #prune(): void {
    const now = Date.now()
    for (const [key, until] of this.#local) if (until <= now) this.#local.delete(key)
    if (this.#local.size >= this.maxLocal) {
      const oldest = this.#local.keys().next().value
      if (oldest !== undefined) this.#local.delete(oldest)
    }
  }
}

/** The store could not answer (down, slow, full, refusing): the local record still holds. */
function isStoreFailure(err: unknown): boolean {
  return typeof (err as TollgateError)?.code === 'string' && (err as TollgateError).code.startsWith('E_STORE')
}
