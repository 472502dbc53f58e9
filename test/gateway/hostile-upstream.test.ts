import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { until, useGateway, within } from './helpers.js'

const MiB = 1024 * 1024

interface ErrorBody {
  error: { message: string; code: string | null }
}

/**
 * Each hostile reply of the fixture, and what the client gets for it. The same request is sent twice:
 * the upstream sees both, so nothing of the first was cached.
 */
describe('a hostile upstream: every reply is a valid answer or an OpenAI-shaped error, nothing hangs, nothing invalid is cached', () => {
  const env = useGateway((upstream) => ({
    server: { port: 0, shutdownTimeout: '5s', maxUpstreamReplyBytes: MiB, maxUpstreamErrorBytes: 4096, maxUpstreamReplyValues: 10_000 },
    upstreams: [
      // {model} in its path: pass-through goes to the next upstream instead (never `/deployments//files`).
      { name: 'azure', baseUrl: `${upstream.replace('/v1', '')}/openai/deployments/{model}`, models: ['az-*'] },
      { name: 'fake', baseUrl: upstream, maxRetries: 0, timeout: '500ms', deadline: '2s' },
    ],
    passThrough: ['/v1/huge/*', '/v1/huge-error/*', '/v1/status/*', '/v1/gzip'],
  }))
  const ask = (content: string, stream = false) => env.gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...(stream ? { stream } : {}) })

  /** Sends `content` twice; returns both replies, after checking the upstream was called both times. */
  async function twice(content: string, stream = false): Promise<Array<{ status: number; text: string }>> {
    const replies = []
    const before = env.upstream.calls['/v1/chat/completions'] ?? 0
    for (let i = 0; i < 2; i++) {
      const response = await within(ask(content, stream), `the reply to ${content}`)
      replies.push({ status: response.status, text: await within(response.text(), `the body of ${content}`) })
    }
    assert.equal((env.upstream.calls['/v1/chat/completions'] ?? 0) - before, 2, 'not cached: the second call went upstream too')
    return replies
  }

  for (const [marker, what] of [
    ['[garbage:html]', 'an HTML page'],
    ['[garbage:null]', 'null'],
    ['[garbage:string]', 'a JSON string'],
    ['[garbage:array]', 'a JSON array'],
    ['[garbage:error]', 'an {"error":…} body'],
  ] as const) {
    it(`a 200 with ${what} is a 502 upstream_invalid_reply, streamed or not`, async () => {
      for (const stream of [false, true]) {
        for (const reply of await twice(`${marker} ${stream}`, stream)) {
          assert.equal(reply.status, 502)
          assert.equal((JSON.parse(reply.text) as ErrorBody).error.code, 'upstream_invalid_reply')
        }
      }
    })
  }

  it('a stall before the headers, and one in the middle of a JSON body, are 504s', async () => {
    for (const marker of ['[slow:3000]', '[stall-body]']) {
      for (const reply of await twice(marker)) {
        assert.equal(reply.status, 504)
        assert.equal((JSON.parse(reply.text) as ErrorBody).error.code, 'upstream_timeout')
      }
    }
  })

  it('a stream that stalls after its first chunks ends with an upstream_timeout error event, no [DONE]', async () => {
    for (const reply of await twice('[stall-stream]', true)) {
      assert.equal(reply.status, 200)
      assert.match(reply.text, /a start/)
      assert.match(reply.text, /"code":"upstream_timeout"/)
      assert.ok(!reply.text.includes('[DONE]'))
    }
  })

  it('a data: null event in a stream is skipped, not taken for the end', async () => {
    const response = await ask('[data-null]', true)
    const text = await response.text()
    assert.match(text, /before null/)
    assert.match(text, /after null/)
    assert.ok(text.endsWith('data: [DONE]\n\n'))
    assert.ok(!text.includes('data: null'))
  })

  it('a JSON reply past maxUpstreamReplyBytes is a 502 upstream_reply_too_large; the upstream is cut off', async () => {
    for (const reply of await twice('[huge:64]')) {
      assert.equal(reply.status, 502)
      assert.equal((JSON.parse(reply.text) as ErrorBody).error.code, 'upstream_reply_too_large')
    }
    assert.ok(env.upstream.hostile.written < 16 * MiB, `the gateway stopped reading (${env.upstream.hostile.written} bytes written of 64 MiB)`)
  })

  it('an endless stream is cut at maxUpstreamReplyBytes with an error event', async () => {
    for (const reply of await twice('[endless]', true)) {
      assert.equal(reply.status, 200)
      assert.match(reply.text, /"code":"upstream_reply_too_large"/)
      assert.ok(!reply.text.includes('[DONE]'))
    }
  })

  it('a reply of more JSON values than maxUpstreamReplyValues is a 502, not parsed; in a stream, an error event', async () => {
    for (const reply of await twice('[objects:50]')) {
      assert.equal(reply.status, 502)
      assert.match((JSON.parse(reply.text) as ErrorBody).error.message, /more than 10000 JSON values/)
    }
    for (const reply of await twice('[objects-stream:50]', true)) assert.match(reply.text, /"code":"upstream_reply_too_large"/)
  })

  it('an upstream that drips its reply faster than timeout is cut at the deadline (504)', async () => {
    for (const reply of await twice('[drip-json:100]')) {
      assert.equal(reply.status, 504)
      assert.match((JSON.parse(reply.text) as ErrorBody).error.message, /deadline of 2000 ms/)
    }
  })

  it('a status that is not an HTTP status (600) is a 502, on the LLM routes and on pass-through', async () => {
    for (const reply of await twice('[status:600]')) {
      assert.equal(reply.status, 502)
      assert.match((JSON.parse(reply.text) as ErrorBody).error.message, /status 600/)
    }
    const passed = await within(fetch(`${env.gw.url}/v1/status/600`), 'the pass-through reply')
    assert.equal(passed.status, 502)
    assert.equal(((await passed.json()) as ErrorBody).error.code, 'upstream_invalid_reply')
  })

  it('a gzipped pass-through reply keeps its Content-Encoding, so the client can read it', async () => {
    const response = await within(fetch(`${env.gw.url}/v1/gzip`), 'the pass-through reply')
    assert.equal(response.headers.get('content-encoding'), 'gzip')
    assert.deepEqual(await response.json(), { object: 'list', data: [{ id: 'file-1' }] })
    assert.equal(env.upstream.last?.url, '/v1/gzip', 'sent to the upstream without {model}, as it came')
  })

  it('an error body past maxUpstreamErrorBytes is replaced by a note; the status stays', async () => {
    for (const reply of await twice('[huge-error:64]')) {
      assert.equal(reply.status, 500)
      const body = JSON.parse(reply.text) as ErrorBody
      assert.equal(body.error.code, 'upstream_error_too_large')
      assert.match(body.error.message, /over 4096 bytes/)
    }
  })

  it('the upstream connections of all these calls were given back', async () => {
    await within(until(() => env.upstream.open === 0), 'the upstream replies to close')
    assert.deepEqual(env.gw.gateway.upstreamConnections(), [
      { upstream: 'azure', inUse: 0, waiting: 0 },
      { upstream: 'fake', inUse: 0, waiting: 0 },
    ])
  })
})

// Its own gateway: 384 MiB through a loaded 2-core machine can take longer than the 2 s deadline the
// hostile cases above need.
describe('a pass-through reply of any size', () => {
  const env = useGateway((upstream) => ({
    server: { port: 0, shutdownTimeout: '5s', maxUpstreamErrorBytes: 4096 },
    upstreams: [{ name: 'fake', baseUrl: upstream, maxRetries: 0, timeout: '10s', deadline: '5m' }],
    passThrough: ['/v1/huge/*', '/v1/huge-error/*'],
  }))

  it('a pass-through reply of any size streams through, its error replies too, neither held whole in memory', async () => {
    for (const [path, status] of [
      ['/v1/huge/384', 200],
      ['/v1/huge-error/384', 500],
    ] as const) {
      const start = process.memoryUsage().rss
      let peak = start
      const response = await within(fetch(`${env.gw.url}${path}`), `the headers of ${path}`)
      assert.equal(response.status, status)
      const reader = response.body!.getReader()
      let received = 0
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        received += r.value.byteLength
        peak = Math.max(peak, process.memoryUsage().rss)
      }
      assert.ok(received > 384 * MiB, `all of it arrived (${received} bytes)`)
      // Gateway and client share this process, and RSS moves with the allocator and the collector (up
      // to ~90 MiB on Node 24 for a streamed reply): a reply held whole would add all its 384 MiB.
      assert.ok(peak - start < 192 * MiB, `RSS rose by ${Math.round((peak - start) / MiB)} MiB`)
    }
  })
})

describe('a long stream of small chunks, under the default bounds', () => {
  const env = useGateway()

  it('50,000 logprob chunks are assembled in linear time (they took 16 s when each one copied the array)', async () => {
    const response = await within(env.gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: '[logprobs:50000]' }], stream: true }), 'the stream')
    assert.ok((await within(response.text(), 'the whole stream')).endsWith('data: [DONE]\n\n'))
  })
})
