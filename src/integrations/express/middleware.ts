import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { DEFAULTS } from '../../core/defaults.js'
import { parseOptions } from '../../core/options.js'
import { defaultClientKey } from '../http/client-key.js'
import { HttpLimit, LimiterPool, pickRules, tooManyRequestsBody } from '../http/http-limiter.js'
import { HeadersSentError, HttpSessions, type SessionOptions, sessionSchema } from '../http/http-session.js'
import { retryAfterSeconds } from '../http/rate-limit-headers.js'
import { ResponseCache, type ResponseCacheOptions, responseCacheSchema } from '../http/response-cache.js'
import { type ExpressRateLimitOptions, type RateLimitInfo, rateLimitSchema } from './options.js'

interface Ctx {
  req: Request
  res: Response
}

/** A middleware that holds resources: `close()` releases what it made itself. */
export type ClosableMiddleware = RequestHandler & { close(): Promise<void> }

/** The rate-limit middleware; `resetKey` forgets a client's counters. */
export type RateLimitMiddleware = ClosableMiddleware & { resetKey(key: string): Promise<void> }

/**
 * Rate limiting for Express 4 and 5, with express-rate-limit's option names (see
 * {@link ExpressRateLimitOptions} for where it differs). Options are checked here, once: a bad one
 * throws `E_INVALID_OPTION` before the app serves anything.
 */
export function rateLimit(options: ExpressRateLimitOptions = {}): RateLimitMiddleware {
  const parsed = parseOptions(rateLimitSchema, options)
  const pool = new LimiterPool({ store: parsed.store, namespace: parsed.namespace, onStoreError: parsed.onStoreError, instances: parsed.instances, logger: parsed.logger })
  const rules = pickRules(parsed)
  if (!rules.rules) Object.assign(rules, { limit: rules.limit ?? DEFAULTS.http.expressLimit, window: parsed.windowMs ?? DEFAULTS.http.windowMs })
  const keyGenerator = parsed.keyGenerator
  const allowList = parsed.allowList
  const skip = parsed.skip
  const limit = new HttpLimit<Ctx>(
    pool.limiterFor(rules, ''),
    {
      keyGenerator: keyGenerator ? ({ req, res }) => keyGenerator(req, res) : ({ req }) => defaultClientKey(req as { user?: unknown }, req.ip),
      allowList: typeof allowList === 'function' ? ({ req }, key) => allowList(req, key) : allowList,
      skip: skip && (({ req, res }) => skip(req, res)),
    },
    { standard: parsed.standardHeaders, legacy: parsed.legacyHeaders ? 'unix-seconds' : false },
  )
  const handler =
    parsed.handler ??
    (async (req: Request, res: Response, _next: NextFunction, info: RateLimitInfo) => {
      const message = typeof parsed.message === 'function' ? await parsed.message(req, res) : (parsed.message ?? tooManyRequestsBody(retryAfterSeconds(info.decision)))
      res.status(parsed.statusCode)
      if (!res.writableEnded) res.send(message)
    })

  const middleware = async (req: Request, res: Response, next: NextFunction) => {
    let info: RateLimitInfo
    try {
      const verdict = await limit.check({ req, res })
      if (!verdict.counted) return next()
      const { decision } = verdict
      info = { limit: decision.limit, used: decision.limit - decision.remaining, remaining: decision.remaining, resetTime: new Date(Date.now() + decision.resetMs), key: verdict.key, decision }
      ;(req as unknown as Record<string, unknown>)[parsed.requestPropertyName] = info
      if (!res.headersSent) for (const [name, value] of verdict.headers) res.setHeader(name, value)
      if (decision.allowed) return next()
    } catch (err) {
      return next(err)
    }
    // Express 4 does not catch a rejected promise: an error of the handler must reach next().
    try {
      await handler(req, res, next, info)
    } catch (err) {
      next(err)
    }
  }
  return Object.assign(middleware, { close: () => pool.close(), resetKey: (key: string) => limit.reset(key) })
}

/**
 * Caches GET responses sent with `res.send` or `res.json` (see {@link ResponseCacheOptions} for the
 * rules). A stream, `res.sendFile` or a bare `res.end` passes through uncached. The entry is written
 * after the reply has gone out, so it never delays it.
 */
export function cache(options: ResponseCacheOptions): RequestHandler {
  const responses = new ResponseCache(parseOptions(responseCacheSchema, options))
  const status = (res: Response, value: string) => responses.statusHeader && res.setHeader(responses.statusHeader, value)
  const middleware = async (req: Request, res: Response, next: NextFunction) => {
    let lookup
    try {
      lookup = await responses.lookup(req.method, req.originalUrl, req.headers)
    } catch (err) {
      return next(err)
    }
    if (lookup.state === 'bypass') {
      status(res, 'BYPASS')
      return next()
    }
    if (lookup.state === 'hit') {
      res.status(lookup.status)
      for (const [name, value] of lookup.headers) res.setHeader(name, value)
      res.setHeader('Age', String(lookup.age))
      status(res, 'HIT')
      res.end(lookup.body)
      return
    }
    status(res, 'MISS')
    const { key } = lookup
    const send = res.send
    // res.json (and res.send of an object) comes back through res.send with the serialised string.
    res.send = function (this: Response, body?: unknown) {
      if (typeof body !== 'string' && !Buffer.isBuffer(body)) return send.call(this, body)
      res.send = send
      const vary = responses.vary(res.getHeader('vary'))
      if (vary) res.setHeader('Vary', vary)
      const sent = send.call(this, body)
      responses.store(key, res.statusCode, res.getHeaders(), body).catch(() => {})
      return sent
    }
    next()
  }
  return middleware
}

/**
 * `req.session` over a session store (see {@link SessionOptions}): read from the store on first use,
 * written when set or updated, its id in an HttpOnly, SameSite=Lax cookie.
 */
export function session(options: SessionOptions = {}): ClosableMiddleware {
  const sessions = new HttpSessions(parseOptions(sessionSchema, options))
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    req.session = sessions.forRequest(req.headers.cookie, req.secure, (cookie) => {
      if (res.headersSent) throw new HeadersSentError()
      res.append('Set-Cookie', cookie)
    })
    next()
  }
  return Object.assign(middleware, { close: () => sessions.close() })
}
