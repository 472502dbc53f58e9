import type { ServerResponse } from 'node:http'
import { SseParser } from '../llm/sse-parser.js'
import { type Completion, StreamAssembler } from '../llm/stream-assembler.js'
import type { StreamHub } from './stream-hub.js'
import type { UpstreamResponse } from './upstream.js'

export function startSse(raw: ServerResponse, cacheStatus: string, ageSeconds = 0, headers: Record<string, string> = {}): void {
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-tollgate-cache': cacheStatus,
    age: String(ageSeconds),
  })
}

/**
 * Writes stream events to one client. Upstream is always asked for the usage chunk (the gateway
 * needs usage for cost and for the cached entry); a client that did not ask for it gets the stream
 * without it, as the provider would have sent it.
 */
export function eventWriter(raw: ServerResponse, includeUsage: boolean): (data: string | null) => void {
  return (data) => {
    if (raw.writableEnded || raw.destroyed) return
    if (data === null) return void raw.end()
    if (includeUsage || data === '[DONE]') return void raw.write(`data: ${data}\n\n`)
    let chunk: Record<string, unknown>
    try {
      chunk = JSON.parse(data) as Record<string, unknown>
    } catch {
      return void raw.write(`data: ${data}\n\n`)
    }
    if (Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage) return
    delete chunk.usage
    raw.write(`data: ${JSON.stringify(chunk)}\n\n`)
  }
}

/**
 * Relays an upstream event stream to the leader's client and to every follower that joins through
 * the hub, while assembling it. Returns the assembled reply if the stream completed, else undefined
 * (the client got what there was; nothing is cached).
 */
export async function relayStream(upstream: UpstreamResponse, hub: StreamHub, key: string, kind: 'chat' | 'text', send: (data: string | null) => void): Promise<Completion | undefined> {
  const live = hub.start(key)
  const assembler = new StreamAssembler(kind)
  live.follow(send)
  const parser = new SseParser((data) => {
    assembler.add(data)
    live.push(data)
  })
  try {
    for await (const chunk of upstream.body) parser.push(chunk)
  } catch {
    // A broken upstream connection mid-stream: the client keeps what it got, the cache keeps nothing.
  } finally {
    hub.finish(key, live)
  }
  return assembler.complete ? assembler.result() : undefined
}
