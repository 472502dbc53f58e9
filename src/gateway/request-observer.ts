import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Caller } from '../calls/types.js'
import type { AccessLog } from './access-log.js'
import type { CallRecord } from './llm-route.js'
import type { GatewayMetrics } from './metrics/gateway-metrics.js'

/** The status requests whose client left before the reply ended are counted under (nginx's). */
const CLIENT_CLOSED = 499

export interface ObservedRequests {
  /** Each request's call, set by the LLM routes. */
  calls: WeakMap<FastifyRequest, CallRecord>
  /** Each authenticated request's caller. */
  callers: WeakMap<FastifyRequest, Caller>
  metrics: GatewayMetrics | undefined
  access: AccessLog | undefined
}

/**
 * Times every request and, once its reply has ended, tells the metrics and writes its access-log
 * line. One listener per request, on the reply's 'close': it comes after the last byte (a stream's
 * included) and also when the client left first, which Fastify's onResponse never sees (499, nginx's
 * "client closed request"). Timed here: Fastify keeps reply.elapsedTime only with a logger or an
 * onResponse hook.
 */
export function observeRequests(app: FastifyInstance, { calls, callers, metrics, access }: ObservedRequests): void {
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now()
    const socket = request.raw.socket
    const sentBefore = socket?.bytesWritten ?? 0
    // `on`, not `once`: the reply closes once, and once() would wrap the listener in another closure.
    reply.raw.on('close', () => {
      const record = calls.get(request)
      const status = reply.raw.writableFinished ? reply.statusCode : CLIENT_CLOSED
      const route = request.routeOptions.url ?? 'unmatched'
      const seconds = (performance.now() - started) / 1000
      const upstreamSeconds = record?.outcome.upstreamSeconds()
      const cache = record?.outcome.cache ?? 'NONE'
      metrics?.observeRequest(route, status, cache, seconds, upstreamSeconds)
      if (!access) return
      const caller = callers.get(request)
      access.write({
        method: request.method,
        route,
        status,
        cache,
        tenant: caller?.tenant,
        key: caller?.key,
        model: record?.model,
        upstream: record?.upstream,
        ms: Math.round(seconds * 1e6) / 1000,
        upstreamMs: upstreamSeconds === undefined ? undefined : Math.round(upstreamSeconds * 1e6) / 1000,
        bytesIn: Number(request.headers['content-length'] ?? 0) || 0,
        bytesOut: (socket?.bytesWritten ?? sentBefore) - sentBefore,
      })
    })
    done()
  })
}
