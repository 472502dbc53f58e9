import { after, before } from 'node:test'
import OpenAI from 'openai'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type Gateway, type GatewayOptions, parseConfig } from '../../src/index.js'
import { createGateway } from '../../src/index.js'

export interface RunningGateway {
  gateway: Gateway
  url: string
  /** An `openai` SDK client pointed at the gateway (no SDK retries unless asked). */
  client(apiKey?: string, options?: { maxRetries?: number }): OpenAI
  /** A raw POST, for what the SDK would not send (bad JSON, odd headers). */
  post(path: string, body: string | object, headers?: Record<string, string>): Promise<Response>
  close(): Promise<void>
}

/** Starts a gateway on a free port in front of `upstreamUrl`, with `overrides` merged into its config. */
export async function startGateway(upstreamUrl: string, overrides: Record<string, unknown> = {}, options: GatewayOptions = {}): Promise<RunningGateway> {
  const config = parseConfig({
    server: { port: 0, shutdownTimeout: '5s' },
    upstreams: [{ name: 'fake', baseUrl: upstreamUrl, apiKey: 'upstream-secret', maxRetries: 1 }],
    ...overrides,
  })
  const gateway = createGateway(config, options)
  const url = await gateway.listen()
  return {
    gateway,
    url,
    client: (apiKey = 'unused', options = {}) => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: options.maxRetries ?? 0 }),
    post: (path, body, headers = {}) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
    close: () => gateway.close(),
  }
}

/**
 * For a describe block: a fake upstream and a gateway in front of it, started before its tests and
 * closed after them. Read `env.upstream` and `env.gw` inside the tests.
 */
export function useGateway(overrides: Record<string, unknown> = {}): { upstream: FakeUpstream; gw: RunningGateway } {
  const env = {} as { upstream: FakeUpstream; gw: RunningGateway }
  before(async () => {
    env.upstream = await startFakeUpstream()
    env.gw = await startGateway(env.upstream.url, overrides)
  })
  after(async () => {
    await env.gw.close()
    await env.upstream.close()
  })
  return env
}

/** `promise`, or a rejection naming `what` after 10 s: a test that would hang fails instead. */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within 10 s`)), 10_000).unref())])
}
