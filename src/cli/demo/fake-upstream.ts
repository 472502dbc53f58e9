import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { hashText, seededRandom } from './random.js'

/** Options of {@link startDemoUpstream}. */
export interface DemoUpstreamOptions {
  /** Seeds the latencies and the replies' text. */
  seed: number
  /** Shortest and longest time a call takes, whole reply included. Default 600 and 2,000 ms. */
  minLatencyMs?: number
  maxLatencyMs?: number
}

/** The demo's stand-in for an LLM provider, and how many calls it answered. */
export interface DemoUpstream {
  /** Base URL to put in an upstream's `baseUrl` (ends in `/v1`). */
  readonly url: string
  /** Chat completions received with this API key (the `Authorization: Bearer` token), as a provider counts them per key. */
  calls(apiKey: string): number
  close(): Promise<void>
}

/** Largest request body read; the demo's own requests are a few kilobytes. */
const MAX_BODY_BYTES = 1024 * 1024

const WORDS = (
  'the function returns a promise that resolves once every pending write is flushed to the store so callers ' +
  'can await it before closing we should add a test for the timeout path and check that the retry honours ' +
  'retry-after the module exports one class with a small interface and keeps its state private a review ' +
  'found two issues a missing null check in the parser and an unbounded queue in the worker pool'
).split(' ')

interface Message {
  role?: unknown
  content?: unknown
}

/**
 * An OpenAI-compatible `/v1/chat/completions` on 127.0.0.1 (a free port) that answers like a slow
 * provider: each call takes a pseudo-random 600–2,000 ms drawn from the seed and the request's model
 * and messages (so the same request takes as long every time, through the gateway or not), as JSON or
 * as an SSE stream (with `usage` when `stream_options.include_usage` asks, as OpenAI does). It counts
 * the calls per API key, so the demo can show the provider's own count beside the gateway's.
 */
export async function startDemoUpstream(options: DemoUpstreamOptions): Promise<DemoUpstream> {
  const min = options.minLatencyMs ?? 600
  const max = options.maxLatencyMs ?? 2_000
  const counts = new Map<string, number>()
  const server = createServer((request, response) => {
    readBody(request).then(
      (text) => answer(request, response, text),
      () => json(response, 413, errorBody(`request body over ${MAX_BODY_BYTES} bytes`, 'request_too_large')),
    )
  })

  function answer(request: IncomingMessage, response: ServerResponse, text: string): void {
    const path = (request.url ?? '').split('?')[0]
    if (request.method !== 'POST' || path !== '/v1/chat/completions') return json(response, 404, errorBody(`the demo upstream serves only POST /v1/chat/completions, not ${request.method} ${path}`, 'not_found'))
    let body: Record<string, unknown>
    try {
      body = JSON.parse(text) as Record<string, unknown>
    } catch {
      return json(response, 400, errorBody('the body is not JSON', 'invalid_json'))
    }
    const messages = Array.isArray(body.messages) ? (body.messages as Message[]) : undefined
    if (typeof body.model !== 'string' || !messages) return json(response, 400, errorBody('model (a string) and messages (an array) are required', 'invalid_request'))
    const key = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? ''
    counts.set(key, (counts.get(key) ?? 0) + 1)
    const random = seededRandom(options.seed ^ hashText(JSON.stringify([body.model, messages])))
    const latencyMs = min + Math.floor(random() * (max - min))
    const content = replyText(random)
    const promptChars = messages.reduce((sum, message) => sum + (typeof message.content === 'string' ? message.content.length : 0), 0)
    // Roughly four characters a token, as OpenAI's own rule of thumb; a few tokens of framing per message.
    const usage = { prompt_tokens: Math.ceil(promptChars / 4) + 4 * messages.length, completion_tokens: Math.ceil(content.length / 4) }
    const reply = { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens }, id: `chatcmpl-demo${hashText(text).toString(36)}`, model: body.model }
    const gone = new AbortController()
    response.once('close', () => gone.abort())
    const stream = body.stream === true
    const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true
    const sent = stream ? streamReply(response, reply, content, latencyMs, includeUsage, gone.signal) : jsonReply(response, reply, content, latencyMs, gone.signal)
    // A client that leaves mid-reply ends the timers with an AbortError: nothing left to answer.
    sent.catch(() => response.destroy())
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    calls: (apiKey) => counts.get(apiKey) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

interface ReplyHead {
  id: string
  model: unknown
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
}

async function jsonReply(response: ServerResponse, head: ReplyHead, content: string, latencyMs: number, signal: AbortSignal): Promise<void> {
  await sleep(latencyMs, undefined, { signal })
  json(response, 200, {
    id: head.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: head.model,
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
    usage: head.usage,
  })
}

/**
 * The reply as OpenAI streams it: the first token after a quarter of the call's time (a model
 * reading its prompt), the rest in chunks spread over the remainder.
 */
async function streamReply(response: ServerResponse, head: ReplyHead, content: string, latencyMs: number, includeUsage: boolean, signal: AbortSignal): Promise<void> {
  const frame = { id: head.id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: head.model }
  const send = (choices: unknown[], extra: Record<string, unknown> = {}) => response.write(`data: ${JSON.stringify({ ...frame, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`)
  const delta = (piece: Record<string, unknown>, finish: string | null = null) => [{ index: 0, delta: piece, logprobs: null, finish_reason: finish }]
  const words = content.split(' ')
  const chunks = Math.min(words.length, 16)
  const per = Math.ceil(words.length / chunks)
  const firstTokenMs = Math.floor(latencyMs / 4)
  await sleep(firstTokenMs, undefined, { signal })
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  send(delta({ role: 'assistant', content: '' }))
  for (let i = 0; i < chunks; i++) {
    const piece = words.slice(i * per, (i + 1) * per).join(' ')
    if (piece) send(delta({ content: i === 0 ? piece : ` ${piece}` }))
    await sleep(Math.floor((latencyMs - firstTokenMs) / chunks), undefined, { signal })
  }
  send(delta({}, 'stop'))
  if (includeUsage) send([], { usage: head.usage })
  response.end('data: [DONE]\n\n')
}

/** 40 to 240 words of plausible review-and-code prose. */
function replyText(random: () => number): string {
  const count = 40 + Math.floor(random() * 200)
  const words: string[] = []
  for (let i = 0; i < count; i++) words.push(WORDS[Math.floor(random() * WORDS.length)] as string)
  return words.join(' ')
}

function errorBody(message: string, code: string): unknown {
  return { error: { message, type: 'invalid_request_error', param: null, code } }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > MAX_BODY_BYTES) {
        request.removeAllListeners('data')
        reject(new Error('too large'))
      } else chunks.push(chunk)
    })
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.once('error', reject)
  })
}
