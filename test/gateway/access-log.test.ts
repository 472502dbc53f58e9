import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { AccessLog, logDestination } from '../../src/gateway/access-log.js'
import { parseConfig } from '../../src/gateway/config.js'
import { CliGateway } from '../harness/cli-gateway.js'
import { freePort } from '../harness/processes.js'
import { startGateway, until } from './helpers.js'

/** A pino destination that keeps the lines written to it. */
function captured(): { lines: Array<Record<string, unknown>>; write(line: string): void } {
  const lines: Array<Record<string, unknown>> = []
  return { lines, write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }
}

const KEY = 'sk-access-log-test'
const keys = [{ name: 'team', tenant: 'acme', hash: hashKey(KEY) }]
const ask = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }] })

describe('an access line', () => {
  it('is one line of JSON whatever the names hold (quotes, newlines, lone surrogates), leaving out absent fields', () => {
    const log = captured()
    const line = { method: 'POST', route: '/v1/chat/completions', status: 200, cache: 'MISS' as const, tenant: 'acme', key: 'k"1', model: 'm\n"x\ud800', upstream: 'up\\', ms: 1.5, upstreamMs: undefined, bytesIn: 10, bytesOut: 20 }
    new AccessLog({ sampleHits: 1 }, log).write(line)
    const [written] = log.lines
    assert.deepEqual(written, { level: 30, time: written?.time, method: 'POST', route: '/v1/chat/completions', status: 200, cache: 'MISS', tenant: 'acme', key: 'k"1', model: 'm\n"x\ud800', upstream: 'up\\', ms: 1.5, bytesIn: 10, bytesOut: 20, msg: 'request' })
    assert.ok(!Number.isNaN(Date.parse(written?.time as string)))
  })
})

describe('the access log destination', () => {
  const line = { method: 'POST', route: '/v1/chat/completions', status: 200, cache: 'MISS' as const, tenant: 't', key: 'k', model: 'm', upstream: 'u', ms: 1, upstreamMs: 1, bytesIn: 1, bytesOut: 1 }
  const linesIn = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).length

  it('with flushMs, holds lines and writes them together within flushMs, or at flush()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-log-'))
    const held = new AccessLog({ sampleHits: 1 }, logDestination(60_000, join(dir, 'held.log')))
    const timed = new AccessLog({ sampleHits: 1 }, logDestination(20, join(dir, 'timed.log')))
    for (let i = 0; i < 3; i++) {
      held.write(line)
      timed.write(line)
    }
    await until(() => existsSync(join(dir, 'timed.log')) && linesIn(join(dir, 'timed.log')) === 3)
    // Far under the 4 KiB batch and a minute from its flush, the held lines wait for flush().
    assert.equal(linesIn(join(dir, 'held.log')), 0)
    await held.flush()
    assert.equal(linesIn(join(dir, 'held.log')), 3)
  })

  it('flushMs: 0 writes each line at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-log-'))
    const log = new AccessLog({ sampleHits: 1 }, logDestination(0, join(dir, 'now.log')))
    log.write(line)
    await until(() => existsSync(join(dir, 'now.log')) && linesIn(join(dir, 'now.log')) === 1)
  })

  it('close() of a destination of its own resolves once every line is written and the destination closed (its periodic flush with it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-log-'))
    for (const flushMs of [0, 10]) {
      const file = join(dir, `closed-${flushMs}.log`)
      const destination = logDestination(flushMs, file)
      let closed = false
      destination.once?.('close', () => (closed = true))
      const log = new AccessLog({ sampleHits: 1 }, destination, true)
      for (let i = 0; i < 2_000; i++) log.write(line)
      await log.close()
      // A flush alone does not wait for the write in flight, which an exit right after drops.
      assert.equal(linesIn(file), 2_000, `flushMs ${flushMs}`)
      assert.ok(closed, 'the destination is closed: it flushes no more')
      log.write(line)
      await log.close()
      assert.equal(linesIn(file), 2_000, 'a line after close is dropped, not thrown')
    }
  })

  it('a destination handed in is flushed at close, not ended: it may be shared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-log-'))
    const destination = logDestination(60_000, join(dir, 'shared.log'))
    const log = new AccessLog({ sampleHits: 1 }, destination)
    log.write(line)
    await log.close()
    destination.write('{"msg":"still open"}\n')
    await new Promise<void>((resolve) => destination.flush?.(() => resolve()))
    assert.equal(linesIn(join(dir, 'shared.log')), 2)
  })

  it('flushMs is 0 or whole milliseconds from 10ms to 60s, default 1s; anything else is refused, naming the option', () => {
    const upstreams = [{ name: 'u', baseUrl: 'http://127.0.0.1:1/v1' }]
    assert.equal(parseConfig({ upstreams }).server.accessLog.flushMs, 1000)
    assert.deepEqual(parseConfig({ server: { accessLog: true }, upstreams }).server.accessLog, { enabled: true, sampleHits: 1, flushMs: 1000 })
    for (const [flushMs, ms] of [[0, 0], ['10ms', 10], ['60s', 60_000], ['500ms', 500]] as const) assert.equal(parseConfig({ server: { accessLog: { flushMs } }, upstreams }).server.accessLog.flushMs, ms)
    for (const flushMs of ['61s', -1, 5, '0.2ms', 1.5, 'abc'])
      assert.throws(() => parseConfig({ server: { accessLog: { flushMs } }, upstreams }), (err: Error & { code?: string; path?: string }) => err.code === 'E_CONFIG' && err.path === 'server.accessLog.flushMs', String(flushMs))
    for (const accessLog of [null, 'yes', 0])
      assert.throws(() => parseConfig({ server: { accessLog }, upstreams }), (err: Error & { code?: string; path?: string }) => err.code === 'E_CONFIG' && err.path === 'server.accessLog' && /true, false or \{ enabled, sampleHits, flushMs \}/.test(err.message), String(accessLog))
  })
})

describe('the access log: one line per request, after its reply', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream.close())

  it('says what an operator needs: route, status, cache, tenant, key, model, upstream, times and bytes', async () => {
    const log = captured()
    const gw = await startGateway(upstream.url, { keys }, { accessLog: log })
    try {
      const client = gw.client(KEY)
      await client.chat.completions.create(ask('logged'))
      await client.chat.completions.create(ask('logged'))
      for await (const chunk of await client.chat.completions.create({ ...ask('streamed'), stream: true as const })) void chunk
      await fetch(`${gw.url}/v1/nothing/here/secret-path`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.arrayBuffer())
      await gw.post('/v1/chat/completions', ask('no key')).then((r) => r.arrayBuffer())
      await until(() => log.lines.length >= 5)
      assert.equal(log.lines.length, 5, JSON.stringify(log.lines))
      const [miss, hit, stream, unknown, unauthenticated] = log.lines as Array<Record<string, unknown>>
      assert.equal(miss?.msg, 'request')
      assert.deepEqual(
        { method: miss?.method, route: miss?.route, status: miss?.status, cache: miss?.cache, tenant: miss?.tenant, key: miss?.key, model: miss?.model, upstream: miss?.upstream },
        { method: 'POST', route: '/v1/chat/completions', status: 200, cache: 'MISS', tenant: 'acme', key: 'team', model: 'gpt-4o-mini', upstream: 'fake' },
      )
      assert.ok((miss?.ms as number) > 0 && (miss?.upstreamMs as number) > 0 && (miss?.upstreamMs as number) <= (miss?.ms as number))
      assert.ok((miss?.bytesIn as number) > 0 && (miss?.bytesOut as number) > 0)
      assert.equal(hit?.cache, 'HIT')
      assert.equal(hit?.upstreamMs, 0)
      assert.equal(stream?.cache, 'MISS')
      assert.ok((stream?.bytesOut as number) > 0)
      // A raw path is client input: it never becomes a field.
      assert.ok(!JSON.stringify(unknown).includes('secret-path'))
      assert.equal(unauthenticated?.status, 401)
      assert.equal(unauthenticated?.cache, 'NONE')
      assert.equal(unauthenticated?.tenant, undefined)
    } finally {
      await gw.close()
    }
  })

  it('sampleHits writes one hit in N; misses and errors always', async () => {
    const log = captured()
    const gw = await startGateway(upstream.url, { server: { port: 0, accessLog: { sampleHits: 5 } } }, { accessLog: log })
    try {
      const client = gw.client()
      for (let i = 0; i < 10; i++) await client.chat.completions.create(ask('sampled'))
      await client.chat.completions.create(ask('[fail:400] refused')).catch(() => {})
      await until(() => log.lines.filter((line) => line.status === 400).length === 1)
      assert.deepEqual(
        log.lines.map((line) => line.cache),
        ['MISS', 'HIT', 'HIT', 'NONE'],
      )
    } finally {
      await gw.close()
    }
  })

  it('accessLog: false writes nothing', async () => {
    const log = captured()
    const gw = await startGateway(upstream.url, { server: { port: 0, accessLog: false } }, { accessLog: log })
    try {
      await gw.client().chat.completions.create(ask('quiet'))
      await gw.client().models.list()
      assert.deepEqual(log.lines, [])
    } finally {
      await gw.close()
    }
  })

  it('tollgate start writes one line per request and none of Fastify\'s own pair', async () => {
    const gateway = await CliGateway.start({ upstreams: [{ name: 'fake', baseUrl: upstream.url }] })
    try {
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask('cli')) })
        await response.arrayBuffer()
      }
      await until(() => gateway.lines.filter((line) => line.msg === 'request').length === 3)
      assert.equal(gateway.lines.filter((line) => /incoming request|request completed/.test(line.msg)).length, 0)
    } finally {
      await gateway.stop()
    }
  })
})

describe('tollgate start at a signal', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await startFakeUpstream()
  })
  after(() => upstream.close())

  const config = () => ({ server: { accessLog: { flushMs: '60s' }, shutdownTimeout: '30s' }, upstreams: [{ name: 'fake', baseUrl: upstream.url }] })
  const answered = async (gateway: CliGateway, count: number) => {
    for (let i = 0; i < count; i++) {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask(`signal ${i}`)) })
      await response.arrayBuffer()
    }
  }
  const accessLines = (gateway: CliGateway) => gateway.lines.filter((entry) => entry.msg === 'request').length

  it('SIGHUP closes as SIGTERM does, writing every buffered line', async () => {
    const gateway = await CliGateway.start(config())
    try {
      await answered(gateway, 5)
      assert.equal(accessLines(gateway), 0, 'held for a minute')
      const exited = once(gateway.child, 'exit')
      gateway.child.kill('SIGHUP')
      assert.deepEqual(await exited, [0, null])
      await until(() => accessLines(gateway) === 5)
    } finally {
      await gateway.stop()
    }
  })

  it('a second SIGTERM while closing exits at once, the buffered lines written first', async () => {
    const gateway = await CliGateway.start(config())
    try {
      await answered(gateway, 5)
      // A call in flight keeps the first SIGTERM's close waiting (up to its 30 s shutdownTimeout).
      const requested = upstream.whenRequested()
      const inFlight = fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask('[hold] in flight')) }).catch(() => undefined)
      await requested
      const exited = once(gateway.child, 'exit')
      gateway.child.kill('SIGTERM')
      await until(() => gateway.lines.some((entry) => /^SIGTERM: finishing/.test(entry.msg)))
      gateway.child.kill('SIGTERM')
      assert.deepEqual(await exited, [1, null])
      await until(() => accessLines(gateway) === 5)
      await inFlight
    } finally {
      upstream.release()
      await gateway.stop()
    }
  })
})

describe('request loggers', () => {
  it('carry the request id on what a request logs (a 5xx and its cause)', async () => {
    // Nothing listens on this port: every call fails upstream with a 502, which the gateway logs.
    const gateway = await CliGateway.start({ upstreams: [{ name: 'gone', baseUrl: `http://127.0.0.1:${await freePort()}/v1`, maxRetries: 0 }] })
    try {
      for (let i = 0; i < 2; i++) {
        const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask(`fails ${i}`)) })
        assert.equal(response.status, 502)
        await response.arrayBuffer()
      }
      await until(() => gateway.lines.filter((line) => line.msg === 'request failed').length === 2)
      const failures = gateway.lines.filter((line) => line.msg === 'request failed')
      const ids = failures.map((line) => (line as { reqId?: unknown }).reqId)
      assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0), JSON.stringify(failures))
      assert.notEqual(ids[0], ids[1])
      assert.ok(failures.every((line) => line.level === 50 && typeof (line as { err?: { message?: unknown } }).err?.message === 'string'))
    } finally {
      await gateway.stop()
    }
  })
})
