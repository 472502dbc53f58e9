import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { type Cache, createCache } from '../cache/cache.js'
import { createStore } from '../stores/create-store.js'
import type { Store } from '../stores/types.js'
import { Authenticator } from './auth.js'
import type { GatewayConfig } from './config.js'
import { handleLlm, type LlmContext } from './llm-handler.js'
import { ModelList } from './models.js'
import { GatewayHttpError } from './openai-errors.js'
import { CostLedger } from './cost-ledger.js'
import { GatewayLimits } from './limits.js'
import { ModelRouter } from './router.js'
import { StreamHub } from './stream-hub.js'
import { UpstreamReplyError } from './upstream.js'

export interface GatewayOptions {
  /** Log requests and lifecycle as JSON lines (pino, through Fastify). Default false. */
  logger?: boolean
}

/**
 * The OpenAI-compatible gateway: Fastify in front of the upstreams, with the cache (and, through
 * the config, the store) shared by every instance pointed at the same Redis.
 */
export class Gateway {
  readonly app: FastifyInstance
  readonly store: Store
  readonly cache: Cache
  readonly ledger = new CostLedger()
  readonly #router: ModelRouter
  readonly #limits: GatewayLimits
  #closing: Promise<void> | undefined

  constructor(
    readonly config: GatewayConfig,
    options: GatewayOptions = {},
  ) {
    this.store = createStore(config.store ?? {})
    this.cache = createCache({ store: this.store, namespace: 'gw', ttl: config.cache.ttl, grace: config.cache.grace, l1: { maxBytes: config.cache.l1MaxBytes } })
    this.#router = new ModelRouter(config.upstreams)
    this.app = Fastify({ logger: options.logger ? { level: config.server.logLevel } : false, bodyLimit: config.server.bodyLimit, forceCloseConnections: false, return503OnClosing: true })
    this.#limits = new GatewayLimits(config, this.store)
    const ctx: LlmContext = { config, router: this.#router, auth: new Authenticator(config), cache: this.cache, hub: new StreamHub(), limits: this.#limits, ledger: this.ledger }
    const models = new ModelList(this.#router)
    const auth = ctx.auth

    // Bodies that are not JSON (multipart uploads for audio and files) pass through to the upstream untouched.
    this.app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    this.app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof UpstreamReplyError) return reply.status(error.status).type(error.contentType).send(error.payload)
      if (error instanceof GatewayHttpError) return reply.status(error.status).headers(error.headers).send(error.body())
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
      if (status === 500) request.log.error({ err: error }, 'unexpected error')
      const message = status === 500 ? 'The gateway failed to handle the request.' : clientMessage(error)
      const code = status === 500 ? 'internal_error' : (error.code?.toLowerCase() ?? 'invalid_request')
      return reply.status(status).send(new GatewayHttpError(status, message, { code }).body())
    })
    this.app.setNotFoundHandler((request, reply) => {
      void reply.status(404).send(new GatewayHttpError(404, `Unknown route: ${request.method} ${request.url}`, { code: 'not_found' }).body())
    })

    this.app.get('/healthz', async () => ({ status: 'ok' }))
    this.app.get('/readyz', async () => {
      try {
        await this.store.ping()
        return { status: 'ready', store: this.store.name }
      } catch (err) {
        // The gateway still answers without its store (misses, local limits): ready, but degraded.
        return { status: 'degraded', store: this.store.name, error: (err as Error).message }
      }
    })
    this.app.post('/v1/chat/completions', (request, reply) => handleLlm(ctx, 'chat', request, reply))
    this.app.post('/v1/completions', (request, reply) => handleLlm(ctx, 'text', request, reply))
    this.app.post('/v1/embeddings', (request, reply) => handleLlm(ctx, 'embeddings', request, reply))
    this.app.get('/v1/models', async (request) => {
      auth.authenticate(request.headers.authorization)
      return models.list()
    })
    this.app.all('/v1/*', async (request, reply) => {
      auth.authenticate(request.headers.authorization)
      const upstream = this.#router.upstreams[0]
      if (!upstream) throw new GatewayHttpError(404, 'No upstream configured', { code: 'not_found' })
      const route = request.url.replace(/^\/v1/, '').split('?')[0] as string
      const method = request.method === 'GET' ? 'GET' : 'POST'
      const contentType = String(request.headers['content-type'] ?? 'application/json')
      const response = await upstream.call(route, method === 'GET' ? undefined : request.body, undefined, method, contentType)
      // Bytes, not text: these routes include audio and files.
      return reply.status(response.status).type(response.contentType).header('x-tollgate-cache', 'BYPASS').send(Buffer.from(await response.body.arrayBuffer()))
    })
  }

  /** Resolves when the token and budget reconciliations of replies sent so far are applied. */
  limitsSettled(): Promise<void> {
    return this.#limits.settled()
  }

  /** Starts listening; resolves with the base URL (e.g. `http://127.0.0.1:8080`). */
  async listen(): Promise<string> {
    await this.cache.ready()
    return this.app.listen({ host: this.config.server.host, port: this.config.server.port })
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight requests (streams included) finish for up to
   * `server.shutdownTimeout`, cut what is left, then close the upstream pools, the cache and the store.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const deadline = setTimeout(() => this.app.server.closeAllConnections(), this.config.server.shutdownTimeout)
      try {
        await this.app.close()
      } finally {
        clearTimeout(deadline)
      }
      await this.#router.close()
      await this.#limits.close()
      await this.cache.close()
      await this.store.close()
    })()
    return this.#closing
  }
}

function clientMessage(error: FastifyError): string {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'The request body is larger than the gateway accepts.'
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return `The request body is not valid JSON: ${error.message}`
  return error.message
}

/** Creates a gateway (not yet listening); see {@link Gateway}. */
export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Gateway {
  return new Gateway(config, options)
}
