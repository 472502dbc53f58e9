import { UpstreamError } from '../core/errors.js'
import { countJsonValues } from '../core/json-size.js'
import { SseParser } from '../llm/sse-parser.js'
import { StreamAssembler } from '../llm/stream-assembler.js'
import type { LiveStream } from './live-streams.js'
import { boundNamesOf, type UpstreamClient, type UpstreamResponse } from './upstream.js'

/** How a relayed stream ended: `failure` unset means every choice finished and `assembler` holds the whole answer. */
export interface Relayed {
  assembler: StreamAssembler
  failure: UpstreamError | undefined
}

/**
 * Relays an upstream SSE reply into `live`: each chunk's payload as it comes, assembled on the way.
 * At most `maxReplyBytes` are read (then the upstream is cut off), and no faster than the fastest
 * reader of `live` takes them: while every reader lags far behind, the upstream's socket goes unread,
 * so a client that stops reading stops the upstream instead of filling the gateway's memory.
 * `[DONE]` is not pushed: the caller sends it once the stream proved complete.
 */
export async function relayStream(
  response: UpstreamResponse,
  live: LiveStream,
  upstream: UpstreamClient,
  kind: 'chat' | 'text',
  heldBack: { count: number },
  /**
   * Asked after every chunk: whether the cache can still take the answer. Once every reader left, a
   * stream it cannot take is cut: nobody wants the rest. Default no (an answer nobody caches).
   */
  cacheable?: (assembler: StreamAssembler, relayed: number) => boolean,
): Promise<Relayed> {
  const assembler = new StreamAssembler(kind)
  let failure: UpstreamError | undefined
  const parser = new SseParser((data) => {
    if (failure) return
    // Counted before each event is parsed: one event may be a 30 MiB array of empty objects. Per
    // event, not summed: a 128k-token answer is hundreds of thousands of small ones, bounded by bytes.
    if (countJsonValues(data, upstream.maxReplyValues) > upstream.maxReplyValues) {
      failure = new UpstreamError('E_UPSTREAM_TOO_LARGE', upstream.name, `streamed an event of more than ${upstream.maxReplyValues} JSON values (${boundNamesOf(upstream).values}); the stream was cut and not cached`)
      return
    }
    // Only chunks go on: a client's SDK would choke on anything else, and after a [DONE] it would take
    // a truncated answer for a whole one.
    if (assembler.add(data) && data !== '[DONE]') live.push(data)
  })
  live.start()
  const max = upstream.maxReplyBytes
  let size = 0
  try {
    for await (const chunk of response.body) {
      if (failure) {
        response.body.destroy()
        break
      }
      size += chunk.byteLength
      if (size > max) {
        failure = new UpstreamError('E_UPSTREAM_TOO_LARGE', upstream.name, `streamed more than ${boundNamesOf(upstream).bytes} (${max} bytes); the stream was cut and not cached`)
        response.body.destroy()
        break
      }
      parser.push(chunk)
      const wanted = cacheable?.(assembler, size) ?? false
      if (live.readers === 0 && !live.joinable && !wanted) {
        failure = new UpstreamError('E_UPSTREAM_ABORTED', upstream.name, 'every reader left and the answer can no longer be cached; the rest was not read')
        response.body.destroy()
        break
      }
      const room = live.room()
      if (room) {
        heldBack.count++
        await room.finally(() => heldBack.count--)
      }
    }
  } catch (err) {
    failure = upstream.failure(err)
  }
  if (!failure && !assembler.complete) {
    const said = assembler.error ? ` (the upstream said: ${assembler.error})` : ''
    failure = new UpstreamError('E_UPSTREAM_INCOMPLETE', upstream.name, `the stream ended before every choice finished${said}; nothing was cached`)
  }
  return { assembler, failure }
}
