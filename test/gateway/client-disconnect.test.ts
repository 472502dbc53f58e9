import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway, within } from './helpers.js'

const chat = (content: string, stream: boolean, extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream, ...extra })

describe('a client that goes away cuts the upstream call unless the cache still wants its answer', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  before(async () => {
    upstream = await startFakeUpstream()
    gw = await startGateway(upstream.url, { limits: { tokens: { limit: 1_000_000, window: '1m' } } })
  })
  after(async () => {
    await gw.close()
    await upstream.close()
  })

  /** Sends a streaming request, reads its first chunk, then drops the connection. */
  async function abandonStream(body: object, headers: Record<string, string> = {}): Promise<void> {
    const controller = new AbortController()
    const response = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: controller.signal })
    await response.body!.getReader().read()
    controller.abort()
  }

  for (const [name, headers, body] of [
    ['no-store', { 'cache-control': 'no-store' }, chat('stop paying [drip:50]', true)],
    ['n > 1 sampling', {}, chat('sample many [drip:50]', true, { n: 2, temperature: 1 })],
  ] as const) {
    it(`a ${name} stream: the upstream call is aborted when the client leaves, and what was streamed is recorded`, async () => {
      const aborted = upstream.whenAborted()
      const spentBefore = gw.gateway.ledger.lines().reduce((sum, l) => sum + l.promptTokens + l.completionTokens, 0)
      await abandonStream(body, headers)
      await within(aborted, 'the upstream saw the abort')
      await gw.gateway.limitsSettled()
      const spentAfter = gw.gateway.ledger.lines().reduce((sum, l) => sum + l.promptTokens + l.completionTokens, 0)
      assert.ok(spentAfter > spentBefore, 'the tokens paid for before the cut are in the ledger')
    })
  }

  it('a bypassed JSON call is aborted too', async () => {
    const aborted = upstream.whenAborted()
    const requested = upstream.whenRequested()
    const controller = new AbortController()
    const request = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      body: JSON.stringify(chat('slow and unwanted [slow:5000]', false)),
      signal: controller.signal,
    })
    await within(requested, 'the upstream got the request')
    controller.abort()
    await request.catch(() => {})
    await within(aborted, 'the upstream saw the abort')
  })

  it('a cacheable stream runs to its end without its client, and the next caller gets it from the cache', async () => {
    const before = upstream.aborted
    const cached = new Promise((resolve) => gw.gateway.cache.events.once('set', resolve))
    await abandonStream(chat('worth keeping [drip:20]', true))
    await within(cached, 'the entry was cached')
    assert.equal(upstream.aborted, before, 'not aborted: the cache wanted the answer')
    const next = await gw.post('/v1/chat/completions', chat('worth keeping [drip:20]', false))
    assert.equal(next.headers.get('x-tollgate-cache'), 'HIT')
    assert.match(((await next.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content, /worth keeping/)
  })
})
