import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CallOutcome } from '../calls/types.js'
import type { Completion } from '../llm/stream-assembler.js'
import { GatewayHttpError, httpErrorOf } from './openai-errors.js'

/**
 * JSON of a reply, once per cached object: an L1 hit hands out the same object every time, so its
 * serialization is kept beside it (weakly: it goes when L1 drops the entry) instead of redone per hit.
 */
const serialized = new WeakMap<object, string>()
function json(value: Completion): string {
  let text = serialized.get(value)
  if (text === undefined) {
    text = JSON.stringify(value)
    serialized.set(value, text)
  }
  return text
}

/** Whether the client's connection closed before its reply was sent in full. */
export function isGone(reply: FastifyReply): boolean {
  const { raw } = reply
  return !raw.writableFinished && (raw.destroyed || raw.socket?.destroyed === true)
}

/** Aborted when the client's connection closes before its reply was sent in full. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  // Asked for late (a miss that waited in line), the close may have happened already.
  if (isGone(reply)) controller.abort()
  else {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort()
    })
  }
  return controller.signal
}

/** Sets `headers` as reply.headers() does, without its array of their names: a hit with limits sends a dozen. */
function setHeaders(reply: FastifyReply, headers: Record<string, string>): FastifyReply {
  for (const name in headers) reply.header(name, headers[name])
  return reply
}

/** A whole completion as `application/json`. */
export function sendJson(reply: FastifyReply, completion: Completion, headers: Record<string, string>): FastifyReply {
  return setHeaders(reply, headers).type('application/json; charset=utf-8').send(json(completion))
}

/**
 * The call's events as a text/event-stream, through Fastify (which pipes with backpressure and
 * destroys the source when the client goes, which tells the producer). A stream that breaks after
 * the status line ends with an OpenAI-shaped `error` event, which the SDKs raise, rather than quietly.
 */
export function sendSse(reply: FastifyReply, outcome: CallOutcome, headers: Record<string, string>): FastifyReply {
  return setHeaders(reply, headers)
    .header('cache-control', 'no-cache')
    .type('text/event-stream; charset=utf-8')
    .send(Readable.from(frames(outcome), { objectMode: false }))
}

async function* frames(outcome: CallOutcome): AsyncGenerator<string> {
  try {
    for await (const payload of outcome.events()) yield `data: ${payload}\n\n`
  } catch (err) {
    yield `data: ${JSON.stringify(httpErrorOf(err as Error).body())}\n\n`
  }
}

/** 405 for a method `url` does not serve, naming the one it does in `Allow`. */
export function methodNotAllowed(request: FastifyRequest, reply: FastifyReply, url: string, allowed: string): FastifyReply {
  // The method on the wire: Fastify runs a GET route's handler for HEAD.
  const method = request.raw.method ?? request.method
  return reply.status(405).header('allow', allowed).send(new GatewayHttpError(405, `${method} is not allowed on ${url}; use ${allowed}.`, { code: 'method_not_allowed' }).body())
}
