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

/** Status codes of `n` sequential GETs. */
export async function statuses(url: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const codes: number[] = []
  for (let i = 0; i < n; i++) {
    const response = await fetch(url, { headers })
    await response.arrayBuffer()
    codes.push(response.status)
  }
  return codes
}
