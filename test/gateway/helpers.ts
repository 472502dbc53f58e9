import assert from 'node:assert/strict'
import { after, before } from 'node:test'
import OpenAI from 'openai'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type Gateway, type GatewayOptions, hashKey, parseConfig } from '../../src/index.js'
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
export function useGateway(overrides: Record<string, unknown> | ((upstreamUrl: string) => Record<string, unknown>) = {}): { upstream: FakeUpstream; gw: RunningGateway } {
  const env = {} as { upstream: FakeUpstream; gw: RunningGateway }
  before(async () => {
    env.upstream = await startFakeUpstream()
    env.gw = await startGateway(env.upstream.url, typeof overrides === 'function' ? overrides(env.upstream.url) : overrides)
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

/** Resolves once `condition()` holds, looking every 20 ms (wrap it in {@link within}: it never gives up by itself). */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20))
}

/** Two keys of tenant `acme` (`key-a1`, `key-a2`) and one of tenant `bravo` (`key-b1`). */
export const TWO_TENANTS = [
  { name: 'a1', hash: hashKey('key-a1'), tenant: 'acme' },
  { name: 'a2', hash: hashKey('key-a2'), tenant: 'acme' },
  { name: 'b1', hash: hashKey('key-b1'), tenant: 'bravo' },
]

/** Reads a response until its first body chunk (for a stream: it is live from then on); the reader goes on from there. */
export async function firstChunk(response: Response): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const reader = response.body!.getReader()
  await reader.read()
  return reader
}

/** The rest of a body, as text. */
export async function readRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = ''
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString()
  return text
}

/** `/metrics` as a map from `name{labels}` to value (comments and buckets left out). */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`, { headers })
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /text\/plain/)
  const series = new Map<string, number>()
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#') || line.includes('_bucket{')) continue
    const space = line.lastIndexOf(' ')
    series.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return series
}
