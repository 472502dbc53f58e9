import type { Context, StorageAdapter } from 'grammy'
import { DEFAULTS } from '../../core/defaults.js'
import { InvalidOptionError } from '../../core/errors.js'
import type { SessionStore } from '../../sessions/session-store.js'

/** grammY's storage adapter over a tollgate session store, plus a compare-and-set `update`. */
export interface TollgateStorageAdapter<T> extends StorageAdapter<T> {
  /** The session store it reads and writes (its TTL, prefix and size cap apply). */
  readonly sessions: SessionStore<T>
  /**
   * Applies `fn` to the session under `key` with compare-and-set: a concurrent update from another
   * process makes `fn` run again on the newer value instead of being overwritten. `fn` must be pure.
   */
  update(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T>
}

/**
 * Per adapter: tells it that an update which read `key` is done with what it read (`updateSession`
 * replaces that session), given the session the update had.
 */
const settlers = new WeakMap<object, (key: string, had: unknown) => void>()

/**
 * A grammY `StorageAdapter` over `sessions`, for `session({ storage: sessionStorage(sessions) })`.
 * Sessions live in the session store's backend (Redis: shared by every bot process) with its TTL.
 *
 * grammY writes the session back after every update that touched `ctx.session`, read-only or not;
 * a stale copy written back erases what another process stored in between. This adapter skips the
 * write of a value that is unchanged since it was read (or stored by `update`), so only updates that
 * changed the session write it. A changed session is still written whole (last writer wins): for
 * read-modify-write that must not lose concurrent changes, use {@link updateSession}.
 *
 * When the chat had no session, grammY writes back the object `initial()` built (or the one the
 * handler assigned): that is stored only if the chat still has no session, so it never replaces a
 * session created meanwhile (by `updateSession` in another update or process); deleting a session
 * that was not there when the update read it deletes nothing.
 */
export function sessionStorage<T>(sessions: SessionStore<T>): TollgateStorageAdapter<T> {
  const store = sessions as Partial<SessionStore<T>> | undefined
  if (
    typeof store?.get !== 'function' ||
    typeof store.set !== 'function' ||
    typeof store.create !== 'function' ||
    typeof store.update !== 'function' ||
    typeof store.delete !== 'function'
  ) {
    throw new InvalidOptionError('sessions', sessions, 'a SessionStore from createSessionStore()')
  }
  // What each session object was last read or written as, under which key: an object grammY hands
  // back unchanged needs no write. Weak, so sessions are forgotten with their contexts.
  const stored = new WeakMap<object, string>()
  const remember = (key: string, value: T | undefined): void => {
    if (typeof value === 'object' && value !== null) stored.set(value, `${key}\n${JSON.stringify(value)}`)
  }
  const known = (key: string, value: unknown): boolean =>
    typeof value === 'object' && value !== null && stored.get(value)?.startsWith(`${key}\n`) === true
  const unchanged = (key: string, value: T): boolean =>
    typeof value === 'object' && value !== null && stored.get(value) === `${key}\n${JSON.stringify(value)}`

  // Reads that found no session, per key, whose update has not written back yet. grammY then makes
  // the session from initial(), an object this adapter never saw, so its write-back is recognised by
  // the key: an object it does not know, for a key read as absent, is a session built on "none".
  // Bounded (oldest key forgotten first): a forgotten read makes its write-back a plain write again.
  const absent = new Map<string, number>()
  const noteAbsent = (key: string): void => {
    const count = absent.get(key) ?? 0
    absent.delete(key)
    if (absent.size >= DEFAULTS.grammy.absentSessionReads) absent.delete(absent.keys().next().value as string)
    absent.set(key, count + 1)
  }
  const takeAbsent = (key: string): boolean => {
    const count = absent.get(key)
    if (count === undefined) return false
    if (count > 1) absent.set(key, count - 1)
    else absent.delete(key)
    return true
  }

  const adapter: TollgateStorageAdapter<T> = {
    sessions,
    async read(key) {
      const value = await sessions.get(key)
      if (value === undefined) noteAbsent(key)
      else remember(key, value)
      return value
    },
    async write(key, value) {
      if (unchanged(key, value)) return
      if (!known(key, value) && takeAbsent(key)) {
        if (await sessions.create(key, value)) remember(key, value)
        return
      }
      await sessions.set(key, value)
      remember(key, value)
    },
    async delete(key) {
      if (takeAbsent(key)) return
      await sessions.delete(key)
    },
    async update(key, fn) {
      const value = await sessions.update(key, fn)
      remember(key, value)
      return value
    },
  }
  settlers.set(adapter, (key, had) => {
    if (!known(key, had)) takeAbsent(key)
  })
  return adapter
}

export interface UpdateSessionOptions {
  /**
   * The session key. Default: the chat id, as grammY's `session()` keys sessions by default; give the
   * same key as your `getSessionKey` (and `prefix`) when you set them.
   */
  key?: string
}

/**
 * Changes the session of this update with compare-and-set, so two updates of one chat handled at the
 * same time (in two processes, or two handlers) both count: `fn` runs again on the newer value when it
 * lost the race. The result becomes `ctx.session` when the session middleware is installed, and its
 * write-back after the handler is skipped (the value is already stored), unless the handler changes
 * `ctx.session` again afterwards. Returns the stored value.
 */
export async function updateSession<T>(
  ctx: Context,
  storage: TollgateStorageAdapter<T>,
  fn: (current: T | undefined) => T | Promise<T>,
  options: UpdateSessionOptions = {},
): Promise<T> {
  if (typeof storage?.update !== 'function') throw new InvalidOptionError('storage', storage, 'the adapter from sessionStorage()')
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', fn, 'a function from the current session to the new one')
  const key = options.key ?? ctx.chatId?.toString()
  if (key === undefined) throw new InvalidOptionError('key', key, 'a session key (this update belongs to no chat: pass { key })')
  const hasSession = 'session' in ctx
  // The session this update read is replaced below and never written back: the adapter must stop
  // waiting for its write-back. (A lazy session is loaded here if the handler had not yet.)
  if (hasSession) settlers.get(storage)?.(key, await (ctx as Context & { session: unknown }).session)
  const value = await storage.update(key, fn)
  if (hasSession) (ctx as Context & { session: T }).session = value
  return value
}
