import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { DEFAULTS } from '../../core/defaults.js'
import { TollgateError } from '../../core/errors.js'
import { positiveDurationMs } from '../../core/options.js'
import { createSessionId, createSessionStore, type SessionStore } from '../../sessions/session-store.js'
import type { Duration } from '../../core/duration.js'

export interface SessionCookieOptions {
  /** Cookie name. Default `'sid'`. */
  name?: string
  /** Default `'/'`. */
  path?: string
  /** Default none (the host that set it). */
  domain?: string
  /** `'auto'`: Secure when the request came over HTTPS. Default `'auto'`. */
  secure?: boolean | 'auto'
  /** Default `'lax'`: sent on top-level navigation, not on cross-site subrequests. */
  sameSite?: 'lax' | 'strict' | 'none'
  /** Cookie lifetime; default none (a browser-session cookie; the session itself ends with the store's TTL). */
  maxAge?: Duration
}

export interface SessionOptions {
  /** The sessions: a `createSessionStore()`, not closed by tollgate. Default a private memory one, closed with the plugin or middleware. */
  sessionStore?: SessionStore
  cookie?: SessionCookieOptions
  /**
   * Signs the cookie (HMAC-SHA256) so a forged id is refused before the store is asked. Ids are
   * already 192 random bits, so this is defence in depth. Default none (unsigned).
   */
  secret?: string
}

export const sessionSchema = z
  .object({
    sessionStore: z.custom<SessionStore>((v) => typeof (v as SessionStore)?.update === 'function', { message: 'a SessionStore from createSessionStore()' }).optional(),
    cookie: z
      .object({
        name: z.string().regex(/^[!#$%&'*+.^`|~\w-]{1,64}$/, { message: 'a cookie name' }).default(DEFAULTS.http.sessionCookie),
        path: z.string().regex(/^\/[^;\s]{0,255}$/, { message: "a path starting with '/'" }).default('/'),
        domain: z.string().regex(/^[\w.-]{1,253}$/, { message: 'a domain name' }).optional(),
        secure: z.union([z.boolean(), z.literal('auto')]).default('auto'),
        sameSite: z.enum(['lax', 'strict', 'none']).default('lax'),
        maxAge: positiveDurationMs.optional(),
      })
      .strict()
      .default({ name: DEFAULTS.http.sessionCookie, path: '/', secure: 'auto', sameSite: 'lax' }),
    secret: z.string().min(16, { message: 'at least 16 characters' }).optional(),
  })
  .strict()

type Parsed = z.output<typeof sessionSchema>

/** The value of cookie `name` in a `Cookie` header (the first one, if sent twice). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  // A Cookie header is at most a few kB; a longer one is not from a browser and is not searched.
  for (const pair of header.slice(0, 16_384).split(';')) {
    const at = pair.indexOf('=')
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim()
  }
  return undefined
}

/** Sessions for one plugin or middleware: the store, and the cookie that carries the id. */
export class HttpSessions {
  readonly #options: Parsed
  readonly #store: SessionStore
  readonly #ownsStore: boolean

  constructor(options: Parsed) {
    this.#options = options
    this.#ownsStore = options.sessionStore === undefined
    this.#store = options.sessionStore ?? createSessionStore()
  }

  /** The session of one request: `cookieHeader` is its `Cookie`, `setCookie` adds a `Set-Cookie` to its reply. */
  forRequest(cookieHeader: string | undefined, secure: boolean, setCookie: (value: string) => void): RequestSession {
    const id = this.#unsign(readCookie(cookieHeader, this.#options.cookie.name))
    return new RequestSession(this.#store, id, (value) => setCookie(this.#cookie(value, secure)))
  }

  async close(): Promise<void> {
    if (this.#ownsStore) await this.#store.close()
  }

  #cookie(id: string | undefined, secure: boolean): string {
    const { name, path, domain, sameSite, maxAge } = this.#options.cookie
    const parts = [`${name}=${id === undefined ? '' : this.#sign(id)}`, `Path=${path}`, 'HttpOnly', `SameSite=${sameSite[0]?.toUpperCase()}${sameSite.slice(1)}`]
    if (domain) parts.push(`Domain=${domain}`)
    if (this.#options.cookie.secure === true || (this.#options.cookie.secure === 'auto' && secure) || sameSite === 'none') parts.push('Secure')
    if (id === undefined) parts.push('Max-Age=0')
    else if (maxAge !== undefined) parts.push(`Max-Age=${Math.ceil(maxAge / 1000)}`)
    return parts.join('; ')
  }

  #sign(id: string): string {
    return this.#options.secret ? `${id}.${createHmac('sha256', this.#options.secret).update(id).digest('base64url')}` : id
  }

  #unsign(value: string | undefined): string | undefined {
    if (!value || !/^[\w.-]{1,128}$/.test(value)) return undefined
    if (!this.#options.secret) return value.includes('.') ? undefined : value
    const at = value.lastIndexOf('.')
    if (at < 1) return undefined
    const id = value.slice(0, at)
    const expected = Buffer.from(this.#sign(id))
    const given = Buffer.from(value)
    return expected.length === given.length && timingSafeEqual(expected, given) ? id : undefined
  }
}

/**
 * A request's session, read from the store on first use only. The id is always one this server
 * made: a cookie naming a session the store does not hold is never adopted (no session fixation), a
 * new random id is made when the request first writes. Writes go to the store when called (awaited),
 * so a reply never leaves before its session is stored and a failure reaches the handler.
 */
export class RequestSession<T = Record<string, unknown>> {
  readonly #store: SessionStore
  readonly #setCookie: (id: string | undefined) => void
  #id: string | undefined
  #loaded: Promise<T | undefined> | undefined

  constructor(store: SessionStore, id: string | undefined, setCookie: (id: string | undefined) => void) {
    this.#store = store
    this.#id = id
    this.#setCookie = setCookie
  }

  /** The session's id, once it has one the store holds. */
  get id(): string | undefined {
    return this.#id
  }

  /** The session's value, or undefined when the request has none. */
  get(): Promise<T | undefined> {
    this.#loaded ??= this.#id === undefined ? Promise.resolve(undefined) : (this.#store.get(this.#id) as Promise<T | undefined>)
    return this.#loaded
  }

  /** Replaces the session's value (starting a session, and its cookie, if the request has none). */
  async set(value: T): Promise<void> {
    const id = await this.#ownId()
    await this.#store.set(id, value)
    this.#loaded = Promise.resolve(value)
  }

  /** Compare-and-set on the stored value: concurrent requests of one session lose no update. */
  async update(fn: (current: T | undefined) => T | Promise<T>): Promise<T> {
    const id = await this.#ownId()
    const next = (await this.#store.update(id, fn as (current: unknown) => unknown)) as T
    this.#loaded = Promise.resolve(next)
    return next
  }

  /** Deletes the session and clears its cookie. */
  async destroy(): Promise<void> {
    if (this.#id === undefined) return
    const id = this.#id
    this.#id = undefined
    this.#loaded = Promise.resolve(undefined)
    this.#setCookie(undefined)
    await this.#store.delete(id)
  }

  async #ownId(): Promise<string> {
    if (this.#id !== undefined && (await this.get()) !== undefined) return this.#id
    const id = createSessionId()
    this.#setCookie(id)
    this.#id = id
    return id
  }
}

/** Thrown when a session is started after the reply's headers were sent: its cookie could not go out. */
export class HeadersSentError extends TollgateError {
  constructor() {
    super('E_HEADERS_SENT', 'The session needs a new cookie, but the reply headers are already sent: write the session before replying')
  }
}
