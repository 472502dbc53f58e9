import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { parseConfig } from '../../src/index.js'
import { TWO_TENANTS, until, useGateway, within } from './helpers.js'

const MiB = 1024 * 1024

/** Opens a raw connection, writes `first`, then nothing more: resolves with what the server sent before it closed. */
function stall(url: string, first: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url)
    let text = ''
    const socket: Socket = connect(Number(port), hostname, () => socket.write(first))
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
}

describe('slow clients are bounded by request and header timeouts', () => {
  const env = useGateway({ server: { port: 0, shutdownTimeout: '5s', requestTimeout: '1s', headersTimeout: '500ms' } })

  it('a body dribbled byte by byte is cut with a 408 once the request timeout passes', async () => {
    const reply = await within(stall(env.gw.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{'), 'the 408')
    assert.match(reply, /^HTTP\/1.1 408/)
    assert.equal((JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { error: { code: string } }).error.code, 'request_timeout')
  })

  it('headers that never end are cut too', async () => {
    const reply = await within(stall(env.gw.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: '), 'the 408')
    assert.match(reply, /^HTTP\/1.1 408/)
  })

  it('a reply that streams for longer than the request timeout is not cut', async () => {
    const response = await env.gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'long stream [drip:300]' }], stream: true })
    const text = await response.text()
    assert.ok(text.endsWith('data: [DONE]\n\n'), 'the whole stream arrived')
  })

  it('headersTimeout above requestTimeout is refused at start', () => {
    assert.throws(() => parseConfig({ upstreams: [{ name: 'u', baseUrl: 'http://127.0.0.1:9/v1' }], server: { requestTimeout: '1s', headersTimeout: '2s' } }), { code: 'E_CONFIG', path: 'server.headersTimeout' })
  })
})

/** A raw keep-alive connection that has sent `request` and read its first bytes; then it reads only when told. */
async function rawRequest(url: string, request: string): Promise<Socket> {
  const socket = await rawRequestSent(url, request)
  await once(socket, 'data')
  return socket
}

/** A raw connection that has sent `request` (nothing read yet). */
async function rawRequestSent(url: string, request: string): Promise<Socket> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  await once(socket, 'connect')
  socket.write(request)
  return socket
}

function streamRequest(content: string, headers = ''): string {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream: true })
  return `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

describe('a stream reader that pauses holds the upstream back, not the gateway memory', () => {
  const env = useGateway({ server: { port: 0, shutdownTimeout: '5s', maxUpstreamReplyBytes: 256 * MiB, streamReadAheadBytes: 64 * 1024 } })

  it('the upstream waits while the reader pauses, goes on when it reads, and is aborted when it leaves', async () => {
    const socket = await rawRequest(env.gw.url, streamRequest('[endless]', 'Cache-Control: no-store\r\n'))
    socket.pause()
    await within(until(() => env.gw.gateway.producer.streamsHeldBack === 1), 'the stream to be held back')
    await within(until(() => env.upstream.hostile.blocked), 'the upstream to be blocked')
    const held = env.upstream.hostile.written
    // Without backpressure the gateway reads on to maxUpstreamReplyBytes (256 MiB): here it holds the read-ahead and socket buffers.
    assert.ok(held < 16 * MiB, `the upstream wrote ${held} bytes while the reader paused`)
    let read = 0
    socket.on('data', (chunk: Buffer) => (read += chunk.byteLength))
    socket.resume()
    await within(until(() => read > 2 * held), 'the stream to go on once read')
    const aborted = env.upstream.whenAborted()
    socket.destroy()
    await within(aborted, 'the upstream call to be aborted')
    await within(until(() => env.gw.gateway.producer.streamsHeldBack === 0), 'no stream held back')
  })
})

describe('a cacheable stream whose every reader left', () => {
  const env = useGateway({ server: { port: 0, shutdownTimeout: '5s', maxUpstreamReplyBytes: 1024 * MiB } })

  it('runs on for the cache only while its answer can still be cached, then the upstream is cut', async () => {
    const socket = await rawRequest(env.gw.url, streamRequest('[endless] abandoned'))
    const aborted = env.upstream.whenAborted()
    socket.destroy()
    await within(aborted, 'the upstream call to be cut')
    // The cache takes entries up to 1 MiB; without the rule the stream would run to maxUpstreamReplyBytes (1 GiB).
    assert.ok(env.upstream.hostile.written < 128 * MiB, `the upstream wrote ${Math.round(env.upstream.hostile.written / MiB)} MiB`)
    assert.equal(env.gw.gateway.producer.liveCalls, 0, 'no longer joinable')
  })

  it('is treated the same when the client left before the stream could start', async () => {
    const socket = await rawRequestSent(env.gw.url, streamRequest('[hold] [endless] left early'))
    await within(until(() => env.upstream.open === 1), 'the call to reach the upstream')
    socket.destroy()
    const aborted = env.upstream.whenAborted()
    env.upstream.release()
    await within(aborted, 'the upstream call to be cut')
    assert.ok(env.upstream.hostile.written < 128 * MiB, `the upstream wrote ${Math.round(env.upstream.hostile.written / MiB)} MiB`)
  })
})

describe('a client that stops reading for good', () => {
  const env = useGateway((upstream) => ({
    server: { port: 0, shutdownTimeout: '5s', idleTimeout: '1500ms', streamReadAheadBytes: 64 * 1024 },
    upstreams: [{ name: 'fake', baseUrl: upstream, timeout: '1s', maxRetries: 0 }],
  }))

  it('is disconnected after idleTimeout, and its upstream connection given back', async () => {
    const socket = await rawRequest(env.gw.url, streamRequest('[endless]', 'Cache-Control: no-store\r\n'))
    socket.pause()
    await within(until(() => env.upstream.open === 0), 'the upstream reply to close')
    // A paused socket sees no end: it learns of the close once it reads again.
    socket.resume()
    await within(once(socket, 'close'), 'the gateway to close the connection')
    assert.deepEqual(env.gw.gateway.upstreamConnections(), [{ upstream: 'fake', inUse: 0, waiting: 0 }])
  })

  it('idleTimeout must be above every upstream timeout', () => {
    assert.throws(() => parseConfig({ upstreams: [{ name: 'u', baseUrl: 'http://127.0.0.1:9/v1', timeout: '3m' }], server: { idleTimeout: '2m' } }), { code: 'E_CONFIG', path: 'server.idleTimeout' })
  })
})

describe('idle keep-alive connections', () => {
  const env = useGateway({ server: { port: 0, shutdownTimeout: '5s', maxConnections: 600 } })

  it('500 of them cost little memory and starve no one; past maxConnections new ones are closed', async (t) => {
    const start = process.memoryUsage().rss
    const sockets = await Promise.all(Array.from({ length: 500 }, () => rawRequest(env.gw.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')))
    const completion = await within(env.gw.client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'still served' }] }), 'a completion beside 500 idle connections')
    assert.match(completion.choices[0]?.message.content ?? '', /still served/)
    const grown = process.memoryUsage().rss - start
    t.diagnostic(`500 idle keep-alive connections, both ends in this process: RSS +${(grown / MiB).toFixed(1)} MiB`)
    assert.ok(grown < 64 * MiB, `500 idle connections (both ends in this process) took ${Math.round(grown / MiB)} MiB`)
    // 501 connections are open (the SDK's own included): 100 more reach 600 and one past it is closed unanswered.
    const more = await Promise.all(Array.from({ length: 99 }, () => rawRequest(env.gw.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')))
    const { hostname, port } = new URL(env.gw.url)
    const refused = connect(Number(port), hostname, () => refused.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))
    let answered = ''
    refused.on('data', (chunk: Buffer) => (answered += chunk.toString()))
    refused.on('error', () => {})
    await within(once(refused, 'close'), 'the connection past maxConnections to be closed')
    assert.equal(answered, '')
    for (const socket of [...sockets, ...more]) socket.destroy()
  })
})

describe('keep-alive connections that stay idle', () => {
  const env = useGateway({ server: { port: 0, shutdownTimeout: '5s', keepAliveTimeout: '300ms' } })

  it('are closed after keepAliveTimeout', async () => {
    const socket = await rawRequest(env.gw.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    await within(once(socket, 'close'), 'the idle connection to be closed')
  })
})

describe("one tenant's abandoned calls do not starve another tenant", () => {
  const env = useGateway((upstream) => ({
    keys: TWO_TENANTS,
    upstreams: [{ name: 'fake', baseUrl: upstream, connections: 8, timeout: '5s', maxRetries: 0 }],
  }))

  it('a tenant holds at most its share of the connections; another is served at once; calls dropped while queued are never sent', async () => {
    const abandon = new AbortController()
    const calls = Array.from({ length: 40 }, (_, i) =>
      fetch(`${env.gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer key-a1', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `[hold] ${i}` }] }),
        signal: abandon.signal,
      }).catch(() => undefined),
    )
    // 8 connections and two tenants: a quarter each (2). The rest of acme's calls wait for acme's two.
    await within(until(() => env.gw.gateway.upstreamConnections()[0]?.waiting === 38), "acme's calls to queue behind its share")
    abandon.abort()
    await Promise.all(calls)
    // Calls still waiting for a connection are dropped when their clients leave: they cost nothing yet.
    await within(until(() => env.gw.gateway.upstreamConnections()[0]?.waiting === 0), "acme's queued calls to be dropped")
    assert.equal(env.upstream.open, 2)
    const completion = await within(env.gw.client('key-b1').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'bravo is served' }] }), "bravo's call")
    assert.match(completion.choices[0]?.message.content ?? '', /bravo is served/)
    // The two already sent run to their end: the cache still wants their answers.
    env.upstream.release()
    await within(until(() => env.gw.gateway.upstreamConnections()[0]?.inUse === 0), "acme's two sent calls to finish")
    assert.equal(env.upstream.calls['/v1/chat/completions'], 3, 'two of acme, one of bravo: the 38 dropped were never sent')
  })
})
