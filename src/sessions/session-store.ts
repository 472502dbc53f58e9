import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { type Clock } from '../core/clock.js'
import { DEFAULTS } from '../core/defaults.js'
import type { Duration } from '../core/duration.js'
import { InvalidOptionError, InvalidSessionIdError, SessionConflictError, UnsupportedByStoreError, ValueTooLargeError } from '../core/errors.js'
import { TypedEmitter } from '../core/events.js'
import { byteSize, parseOptions, positiveDurationMs } from '../core/options.js'
import { deserializeValue, jsonSerializer, serializeValue } from '../core/serializer.js'
import { createStore } from '../stores/create-store.js'
import type { Store } from '../stores/types.js'
import { SESSION_CAS, tokenOf } from './session-cas.js'

export interface SessionStoreOptions {
  /** Where sessions live. Default: a private memory store, closed with the session store. */
  store?: Store
  /** A session expires this long after its last write (and read, with `sliding`). Default 24 h. */
  ttl?: Duration
  /** Reads extend the TTL. Default true. */
  sliding?: boolean
  /** Keys are `{prefix}:{id}`; letters, digits, `_ . -`. Default `'sess'`. */
  prefix?: string
  /** Largest serialized session. Default 64 KiB. */
  maxValueBytes?: number
  /** Compare-and-set attempts of one `update` before `E_SESSION_CONFLICT`. Default 20. */
  maxRetries?: number
  /** Clock of the private memory store. Default the system clock. */
  clock?: Clock
}

export interface SessionEvents extends Record<string, unknown> {
  /** An update lost a compare-and-set to a concurrent writer and tries again. */
  conflict: { id: string; attempt: number }
  set: { id: string }
  delete: { id: string }
}

export interface SessionStats {
  reads: number
  writes: number
  conflicts: number
}

/** Session ids: what cookies, chat ids and UUIDs look like, nothing that could bend a key. */
const SESSION_ID = /^[\w.:@+=/-]{1,256}$/

const schema = z
  .object({
    store: z.custom<Store>((v) => typeof (v as Store)?.get === 'function', { message: 'a Store from createStore()' }).optional(),
    ttl: positiveDurationMs.default(DEFAULTS.session.ttlMs),
    sliding: z.boolean().default(DEFAULTS.session.sliding),
    prefix: z.string().regex(/^[\w.-]{1,64}$/, { message: 'letters, digits, _ . - (1 to 64)' }).default(DEFAULTS.session.prefix),
    maxValueBytes: byteSize(16).default(DEFAULTS.session.maxValueBytes),
    maxRetries: z.number().int().min(1).max(1000).default(DEFAULTS.session.maxRetries),
    clock: z.custom<Clock>((v) => typeof (v as Clock)?.now === 'function', { message: 'an object with now()' }).optional(),
  })
  .strict()

/** A random session id: 24 bytes of entropy, base64url (32 characters). */
export function createSessionId(): string {
  return randomBytes(24).toString('base64url')
}

/**
 * Sessions over a store, as JSON, with a TTL. `update` is a compare-and-set: it reads the session and
 * its token, computes the new value, and writes only if nobody wrote in between (a Lua script on
 * Redis, the synchronous twin on memory); otherwise it reads again and retries. Updates of one id in
 * this process are queued, so only other processes can make it retry.
 */
export class SessionStore<T = unknown> {
  readonly events = new TypedEmitter<SessionEvents>()
  readonly #options: z.output<typeof schema>
  readonly #store: Store
  readonly #ownsStore: boolean
  readonly #queues = new Map<string, Promise<unknown>>()
  readonly #stats: SessionStats = { reads: 0, writes: 0, conflicts: 0 }

  constructor(options: SessionStoreOptions = {}) {
    this.#options = parseOptions(schema, options)
    this.#ownsStore = this.#options.store === undefined
    this.#store = this.#options.store ?? createStore({ clock: this.#options.clock })
  }

  /** The session, or undefined. With `sliding`, also restarts its TTL. */
  async get(id: string): Promise<T | undefined> {
    const key = this.#key(id)
    this.#stats.reads++
    const [data] = await Promise.all([this.#store.get(key), this.#options.sliding ? this.#store.expire(key, this.#options.ttl) : undefined])
    return data === null ? undefined : this.#decode(data)
  }

  /** Replaces the session (and its TTL), whatever it held. */
  async set(id: string, value: T, options: { ttl?: Duration } = {}): Promise<void> {
    const key = this.#key(id)
    await this.#store.set(key, this.#encode(value), { ttlMs: this.#ttl(options.ttl) })
    this.#written(id)
  }

  /**
   * Stores the session only if there is none (one atomic set-if-absent), so a session somebody else
   * created meanwhile is never replaced. Returns false, writing nothing, when one exists.
   */
  async create(id: string, value: T, options: { ttl?: Duration } = {}): Promise<boolean> {
    const key = this.#key(id)
    const created = await this.#store.set(key, this.#encode(value), { ttlMs: this.#ttl(options.ttl), ifNotExists: true })
    if (created) this.#written(id)
    return created
  }

  /**
   * Applies `fn` to the current session (undefined if none) and stores its result, without losing a
   * concurrent update: on conflict `fn` runs again on the newer value, so it must be pure. Returns
   * the stored value. Throws `E_SESSION_CONFLICT` after `maxRetries` lost races.
   */
  async update(id: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> {
    const key = this.#key(id)
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', fn, 'a function from the current session to the new one')
    if (!this.#store.capabilities.scripts) throw new UnsupportedByStoreError(this.#store.name, 'atomic scripts', 'session update (compare-and-set)')
    const previous = this.#queues.get(key) ?? Promise.resolve()
    const run = previous.catch(() => {}).then(() => this.#update(id, key, fn))
    this.#queues.set(key, run)
    try {
      return await run
    } finally {
      if (this.#queues.get(key) === run) this.#queues.delete(key)
    }
  }

  /** Restarts the session's TTL; false when there is no such session. */
  async touch(id: string): Promise<boolean> {
    return this.#store.expire(this.#key(id), this.#options.ttl)
  }

  /** Deletes the session; true if it existed. */
  async delete(id: string): Promise<boolean> {
    const deleted = (await this.#store.delete(this.#key(id))) > 0
    this.events.emit('delete', { id })
    return deleted
  }

  stats(): SessionStats {
    return { ...this.#stats }
  }

  /** Closes the store only if the session store created it. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()])
    if (this.#ownsStore) await this.#store.close()
  }

  async #update(id: string, key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.#stats.reads++
      const data = await this.#store.get(key)
      const next = await fn(data === null ? undefined : this.#decode(data))
      const written = await this.#store.runScript(SESSION_CAS, [key], [tokenOf(data), this.#encode(next), Math.ceil(this.#options.ttl)])
      if (Number(written) === 1) {
        this.#written(id)
        return next
      }
      this.#stats.conflicts++
      this.events.emit('conflict', { id, attempt })
      if (attempt >= this.#options.maxRetries) throw new SessionConflictError(id, attempt)
      // Jittered and growing, so two processes that collided do not collide again in lockstep.
      await sleep(Math.random() * Math.min(2 ** attempt, 50))
    }
  }

  #written(id: string): void {
    this.#stats.writes++
    this.events.emit('set', { id })
  }

  #ttl(ttl: Duration | undefined): number {
    return ttl === undefined ? this.#options.ttl : parseOptions(positiveDurationMs, ttl, 'ttl')
  }

  #encode(value: T): string {
    if (value === undefined) throw new InvalidOptionError('value', value, 'a session value other than undefined (delete the session instead)')
    const payload = serializeValue(jsonSerializer, value)
    if (payload.byteLength > this.#options.maxValueBytes) throw new ValueTooLargeError(payload.byteLength, this.#options.maxValueBytes, 'session')
    return `${randomBytes(9).toString('base64url')}\n${payload.toString('utf8')}`
  }

  #decode(data: Buffer): T {
    const newline = data.indexOf(10)
    return deserializeValue(jsonSerializer, data.subarray(newline + 1)) as T
  }

  #key(id: string): string {
    if (typeof id !== 'string' || !SESSION_ID.test(id)) {
      throw new InvalidSessionIdError(id, '1 to 256 characters of letters, digits and _ . : @ + = / -')
    }
    return `${this.#options.prefix}:${id}`
  }
}

/** Creates a session store; see {@link SessionStoreOptions}. */
export function createSessionStore<T = unknown>(options: SessionStoreOptions = {}): SessionStore<T> {
  return new SessionStore<T>(options)
}
