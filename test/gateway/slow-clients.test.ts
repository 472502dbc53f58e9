import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { parseConfig } from '../../src/index.js'
import { useGateway, within } from './helpers.js'

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
