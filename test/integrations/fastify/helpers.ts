import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'

/** A Fastify app on a loopback port, closed by the caller. */
export function app(options: FastifyServerOptions = {}): FastifyInstance {
  return Fastify({ logger: false, ...options })
}

export async function serve(instance: FastifyInstance): Promise<string> {
  await instance.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(instance.server.address() as AddressInfo).port}`
}

export { statuses } from '../http-helpers.js'
