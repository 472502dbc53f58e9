import type { Duplex } from 'node:stream'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import { type Cache, createCache } from '../cache/cache.js'
import { CallLimits } from '../calls/limits.js'
import { CallProducer } from '../calls/producer.js'
import { ModelRouter } from '../calls/router.js'
import type { Caller } from '../calls/types.js'
import type { Clock } from '../core/clock.js'
import { DEFAULTS } from '../core/defaults.js'
import { countJsonValues } from '../core/json-size.js'
import { UpstreamError } from '../core/errors.js'
import { Pricing } from '../llm/pricing.js'
import { createSessionStore, type SessionStore } from '../sessions/session-store.js'
import { createStore } from '../stores/create-store.js'
import type { Store } from '../stores/types.js'
import { adminStats } from './admin/admin-stats.js'
import { AdminToken } from './admin/admin-token.js'
import { registerAdmin } from './admin/admin-routes.js'
import { Authenticator } from './auth.js'
import { registerDashboard } from './dashboard/routes.js'
import { type GatewayConfig, openStore, upstreamSpecs } from './config.js'
import { type CallRecord, handleLlm, type LlmRouteDeps } from './llm-route.js'
import { AccessLog, logDestination } from './access-log.js'
import { ParsedBodies } from './parsed-bodies.js'
import { lazyRequestLogger } from './request-logger.js'
import { observeRequests } from './request-observer.js'
import type { DestinationStream } from 'pino'
import { ModelList } from './models.js'
import { GatewayHttpError, httpErrorOf } from './openai-errors.js'
import { LLM_ROUTES, PassThrough } from './pass-through.js'
import { methodNotAllowed } from './responders.js'
import { GatewayMetrics } from './metrics/gateway-metrics.js'
import { readiness, startupWarnings } from './readiness.js'
import { version } from './version.js'

export interface GatewayOptions {
  /** Log lifecycle and trouble as JSON lines (pino, through Fastify), and requests to the access log on stdout. Default false. */
  logger?: boolean
  /** Where the access log (`server.accessLog`) goes. Default stdout when `logger` is on, else nowhere. */
  accessLog?: DestinationStream
  /** The clock of the cache's TTLs and grace and of reply ages (tests move it by hand). Default the system clock. */
  clock?: Clock
}

/**
 * The OpenAI-compatible gateway: Fastify in front of the call producer. On Redis every instance
 * shares the cache and the limits; on the embedded default the cache is in-process (L1 only, no
 * second copy of each reply) and the limits have a store of their own that never evicts, so cached
 * replies can never push a rate-limit counter out.
 */
export class Gateway {
  readonly app: FastifyInstance
  /** The store named by `store.url`: the cache's L2 (none on the embedded default). */
  readonly store: Store
  /** Where limit counters live: `limits.store`, else the store on Redis, else a non-evicting memory store. */
  readonly limitsStore: Store
  readonly cache: Cache
  readonly producer: CallProducer
  /** The Prometheus metrics (`GET /metrics`); undefined with `metrics.enabled: false`. */
  readonly metrics: GatewayMetrics | undefined
  /** Sessions for services in other languages (`/admin/sessions/:id`), over the gateway's store. */
  readonly sessions: SessionStore<unknown>
  readonly startedAt = new Date()
  readonly #accessLog: AccessLog | undefined
  /** What the config would be warned about at start (unpriced models, a limits store that may evict). */
  readonly warnings: string[] = []
  readonly #router: ModelRouter
  readonly #limits: CallLimits
  #closing: Promise<void> | undefined

  constructor(
    readonly config: GatewayConfig,
    options: GatewayOptions = {},
  ) {
    this.store = config.store ? openStore(config.store, 'store') : createStore({})
    const embedded = this.store.kind === 'memory'
    const { store: limitsStoreConfig, instances, ...limits } = config.limits
    this.limitsStore = limitsStoreConfig
      ? openStore(limitsStoreConfig, 'limits.store')
      : embedded
        ? createStore({ url: 'memory://', evict: false, maxBytes: DEFAULTS.memory.maxBytes })
        : this.store
    this.cache = createCache({
      store: embedded ? undefined : this.store,
      namespace: 'gw',
      ttl: config.cache.ttl,
      grace: config.cache.grace,
      l1: { maxBytes: config.cache.l1MaxBytes },
      // A follower on another instance waits for the leader's answer as long as the leader may take:
      // paying for the same completion twice is what the lease is for avoiding.
      lease: { wait: Math.max(DEFAULTS.cache.leaseWaitMs, ...config.upstreams.map((upstream) => upstream.deadline)) },
      ...(options.clock ? { clock: options.clock } : {}),
    })
    this.#router = new ModelRouter(upstreamSpecs(config))
    // The app (and its logger) is made below; the limiter only logs once requests run.
    const switches = { warn: (message: string) => this.app.log.warn(message), info: (message: string) => this.app.log.info(message) }
    this.#limits = new CallLimits(limits, config.keys, this.limitsStore, instances, switches)
    const pricing = new Pricing(config.pricing, config.unpricedModel, config.unpricedPrice)
    this.producer = new CallProducer({
      cache: this.cache,
      pricing,
      limits: this.#limits,
      clock: options.clock,
      streamReadAheadBytes: config.server.streamReadAheadBytes,
      joinableStreamBytes: config.server.joinableStreamBytes,
    })
    this.warnings.push(...startupWarnings(config, this.#router, pricing))
    this.sessions = createSessionStore({ store: this.store })
    const stores = [{ role: 'cache' as const, store: this.store }, ...(this.limitsStore === this.store ? [] : [{ role: 'limits' as const, store: this.limitsStore }])]
    this.metrics = config.metrics.enabled
      ? new GatewayMetrics(
          { producer: this.producer, upstreams: this.#router.upstreams, cache: this.cache, limits: this.#limits, stores },
          { ...config.metrics, models: this.#router.configuredModels().map((model) => this.#router.resolve(model)?.model ?? model) },
        )
      : undefined
    this.app = Fastify({
      logger: options.logger ? { level: config.server.logLevel } : false,
      // The access log writes one line per request, after the reply; Fastify's pair would double it.
      logController: new LogController({ disableRequestLogging: true }),
      childLoggerFactory: lazyRequestLogger,
      bodyLimit: config.server.bodyLimit,
      forceCloseConnections: false,
      return503OnClosing: true,
      // Fastify's default (0) turns Node's own request timeout off: a body sent a byte every few
      // seconds would hold its connection for ever. Node checks these bounds on an interval, 30 s by
      // default, which would stretch a short bound: it checks four times per header bound here.
      requestTimeout: config.server.requestTimeout,
      connectionTimeout: config.server.idleTimeout,
      keepAliveTimeout: config.server.keepAliveTimeout,
      http: { headersTimeout: config.server.headersTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(config.server.headersTimeout / 4))) },
      // Errors Fastify and Node answer before a route runs get the OpenAI shape too.
      frameworkErrors: (error, _request, reply) => void (reply as FastifyReply).status(400).send(new GatewayHttpError(400, `The request URL is not valid: ${error.message}`, { code: 'invalid_url' }).body()),
      clientErrorHandler: answerClientError,
    })
    // Past it Node closes new connections as they arrive: idle keep-alive sockets cannot pile up without bound.
    this.app.server.maxConnections = config.server.maxConnections
    const destination = config.server.accessLog.enabled ? (options.accessLog ?? (options.logger ? logDestination(config.server.accessLog.flushMs) : undefined)) : undefined
    this.#accessLog = destination ? new AccessLog(config.server.accessLog, destination, !options.accessLog) : undefined
    const calls = this.metrics || this.#accessLog ? new WeakMap<FastifyRequest, CallRecord>() : undefined
    const bodies = config.server.bodyMemoBytes > 0 ? new ParsedBodies(config.server.bodyMemoBytes) : undefined
    const deps: LlmRouteDeps = { config, router: this.#router, producer: this.producer, calls, bodies }
    const auth = new Authenticator(config)
    const models = new ModelList(this.#router)
    // The first upstream whose base takes no model: a `{model}` base would give `/deployments//files`.
    const passThrough = new PassThrough(config.passThrough, this.#router.upstreams.find((upstream) => !upstream.modelInPath), this.#limits, this.producer.ledger, config.cache.exposeHeaders)
    const callers = new WeakMap<FastifyRequest, Caller>()
    const callerOf = (request: FastifyRequest): Caller => {
      const caller = callers.get(request)
      if (!caller) throw new GatewayHttpError(401, 'The request was not authenticated.', { code: 'invalid_api_key' })
      return caller
    }

    // First, so that requests the hooks below refuse (401, 405) are timed, counted and logged too.
    if (calls) observeRequests(this.app, { calls, callers, metrics: this.metrics, access: this.#accessLog })

    // Before the body is read: an unauthenticated caller learns nothing about validation.
    // A callback hook, not an async one: it runs on every request, and a promise per request is measurable.
    this.app.addHook('onRequest', (request, reply, done) => {
      // Any method but the route's own on an LLM route, before its body is read: methods without a
      // route of their own (TRACE, QUERY, ...) would otherwise fall through to pass-through.
      const { url } = request
      const query = url.indexOf('?')
      const path = query === -1 ? url : url.slice(0, query)
      const allowed = LLM_ROUTES.get(path)
      if (allowed && request.method !== allowed && !(allowed === 'GET' && request.method === 'HEAD')) return void methodNotAllowed(request, reply, path, allowed)
      // By the route matched, not by the URL's spelling: an absolute-form target (`POST http://x/v1/...`)
      // or an encoded `%76` reaches the same routes and must meet the same check. The URL answers the
      // common case; the matched route (an object built per read) only the others.
      if (!url.startsWith('/v1/') && !request.routeOptions.url?.startsWith('/v1/')) return done()
      try {
        callers.set(request, auth.authenticate(request.headers.authorization))
        done()
      } catch (err) {
        done(err as Error)
      }
    })
    // JSON bodies are measured before they are parsed: a body of a million empty objects is cheap to
    // send and costs seconds and gigabytes once parsed and walked. Fastify's own parser does the rest
    // (a `__proto__` or `constructor` key is refused).
    const parseJson = this.app.getDefaultJsonParser('error', 'error')
    const maxObjects = config.server.maxJsonValues
    this.app.removeContentTypeParser('application/json')
    this.app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = body as string
      // Only authenticated calls (the LLM routes) are kept: an entry belongs to a tenant.
      const tenant = bodies && callers.get(request)?.tenant
      const known = tenant === undefined ? undefined : bodies?.get(text, tenant)
      if (known) return done(null, known)
      if (countJsonValues(text, maxObjects) > maxObjects) {
        return done(new GatewayHttpError(400, `The request body holds more than ${maxObjects} JSON values (server.maxJsonValues).`, { code: 'request_too_complex' }), undefined)
      }
      if (tenant === undefined) return parseJson(request, text, done)
      parseJson(request, text, (err, parsed) => {
        if (!err && parsed !== null && typeof parsed === 'object') bodies?.remember(text, tenant, parsed as object)
        done(err, parsed)
      })
    })
    // Bodies that are not JSON (multipart uploads for audio and files) pass through to the upstream untouched.
    this.app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    this.app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof UpstreamError && error.code === 'E_UPSTREAM_STATUS') {
        return reply.status(error.status ?? 502).headers(error.headers).type(error.contentType ?? 'application/json').send(error.body)
      }
      const failure = httpErrorOf(error)
      if (failure.status >= 500) request.log.error({ err: error }, 'request failed')
      return reply.status(failure.status).headers(failure.headers).send(failure.body())
    })
    this.app.setNotFoundHandler((request, reply) => {
      void reply.status(404).send(new GatewayHttpError(404, `Unknown route: ${request.method} ${request.url.split('?')[0]}`, { code: 'not_found' }).body())
    })

    const metrics = this.metrics
    if (metrics) {
      const guard = config.metrics.requireAdminToken && config.admin.token ? new AdminToken(config.admin.token) : undefined
      this.app.get('/metrics', async (request, reply) => {
        guard?.check(request.headers.authorization)
        return reply.type(metrics.registry.contentType).send(await metrics.text())
      })
    }
    registerAdmin(this.app, {
      config,
      cache: this.cache,
      limits: this.#limits,
      sessions: this.sessions,
      stats: () => {
        if (!this.metrics) throw new GatewayHttpError(404, '/admin/stats needs the metrics (metrics.enabled: true).', { code: 'metrics_disabled' })
        return adminStats({ version: version(), startedAt: this.startedAt, metrics: this.metrics, ledger: this.producer.ledger, cache: this.cache, limits: this.#limits, store: this.store, limitsStore: this.limitsStore })
      },
    })
    registerDashboard(this.app, { enabled: config.admin.token !== undefined })
    this.app.get('/healthz', async () => ({ status: 'ok' }))
    this.app.get('/readyz', () => readiness(this.store, this.limitsStore, this.#limits.onFallback))
    this.app.post('/v1/chat/completions', (request, reply) => handleLlm(deps, 'chat', callerOf(request), request, reply))
    this.app.post('/v1/completions', (request, reply) => handleLlm(deps, 'text', callerOf(request), request, reply))
    this.app.post('/v1/embeddings', (request, reply) => handleLlm(deps, 'embeddings', callerOf(request), request, reply))
    this.app.get('/v1/models', (request) => models.list(callerOf(request).tenant))
    // Pass-through bodies go upstream as the bytes the client sent: no JSON round trip in this scope.
    void this.app.register(async (scope) => {
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
      scope.all('/v1/*', (request, reply) => passThrough.handle(callerOf(request), request, reply))
    })
  }

  /** Spend and savings per tenant and model. */
  get ledger(): CallProducer['ledger'] {
    return this.producer.ledger
  }

  /** Each upstream's connections in use and calls waiting for one. */
  upstreamConnections(): Array<{ upstream: string; inUse: number; waiting: number }> {
    return this.#router.upstreams.map((upstream) => ({ upstream: upstream.name, inUse: upstream.gate.inUse, waiting: upstream.gate.waiting }))
  }

  /** Resolves when the token and budget settlements of calls answered so far are applied. */
  limitsSettled(): Promise<void> {
    return this.#limits.settled()
  }

  /** Starts listening; resolves with the base URL (e.g. `http://127.0.0.1:8080`). Logs the start-up warnings. */
  async listen(): Promise<string> {
    await this.cache.ready()
    this.warnings.push(...(await readiness(this.store, this.limitsStore)).warnings)
    for (const warning of this.warnings) this.app.log.warn(warning)
    return this.app.listen({ host: this.config.server.host, port: this.config.server.port })
  }

  /**
   * Writes out the access log's buffered lines at once: for a process that must exit without the
   * graceful {@link close} (a second signal while closing). Lines of requests still in flight are lost.
   */
  flushLogsSync(): void {
    this.#accessLog?.flushSync()
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight requests (streams included) finish for up to
   * `server.shutdownTimeout`, cut what is left, then close the upstream pools, the cache and the stores.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const deadline = setTimeout(() => this.app.server.closeAllConnections(), this.config.server.shutdownTimeout)
      try {
        await this.app.close()
      } finally {
        clearTimeout(deadline)
      }
      this.metrics?.close()
      await this.#accessLog?.close()
      await this.#router.close()
      await this.#limits.close()
      await this.sessions.close()
      await this.cache.close()
      if (this.limitsStore !== this.store) await this.limitsStore.close()
      await this.store.close()
    })()
    return this.#closing
  }
}

/**
 * A request Node's HTTP parser refused (headers too large, a malformed request line or Content-Length,
 * a request timeout): answered on the socket with an OpenAI-shaped error, as Fastify's own route errors are.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy()
  const [status, reason, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'The request headers are larger than the gateway accepts.']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout', 'The request was not received in time.']
        : [400, 'Bad Request', 'invalid_request', 'The request is not valid HTTP (request line, headers or Content-Length).']
  const body = JSON.stringify(new GatewayHttpError(status, message, { code }).body())
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/** Creates a gateway (not yet listening); see {@link Gateway}. */
export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Gateway {
  return new Gateway(config, options)
}
