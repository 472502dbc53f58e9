import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway } from './helpers.js'

const chat = (content: string, stream: boolean) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream })

describe('grace: a stale hit is served at once and refreshed in the background, streamed or not', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  const clock = new ManualClock(Date.now())
  before(async () => {
    upstream = await startFakeUpstream()
    gw = await startGateway(upstream.url, { cache: { ttl: '1m', grace: '1h' } }, { clock })
  })
  after(async () => {
    await gw.close()
    await upstream.close()
  })

  for (const stream of [true, false]) {
    it(`${stream ? 'a streaming' : 'a JSON'} stale hit costs exactly one upstream call, and the next request gets the fresh entry`, async () => {
      const body = chat(`refresh me ${stream}`, stream)
      upstream.reset()
      const first = await gw.post('/v1/chat/completions', body)
      await first.text()
      assert.equal(first.headers.get('x-tollgate-cache'), 'MISS')
      clock.advance(61_000)
      const refreshed = new Promise((resolve) => gw.gateway.cache.events.once('set', resolve))
      const stale = await gw.post('/v1/chat/completions', body)
      const text = await stale.text()
      assert.equal(stale.headers.get('x-tollgate-cache'), 'STALE')
      assert.equal(stale.headers.get('age'), '61')
      if (stream) assert.ok(text.endsWith('data: [DONE]\n\n'), 'the stale entry is replayed as a whole stream')
      await refreshed
      const fresh = await gw.post('/v1/chat/completions', body)
      await fresh.text()
      assert.equal(fresh.headers.get('x-tollgate-cache'), 'HIT')
      assert.equal(fresh.headers.get('age'), '0', 'the entry the background refresh wrote')
      assert.equal(upstream.calls['/v1/chat/completions'], 2, 'the first call and one refresh')
      assert.equal(gw.gateway.cache.stats().loaderErrors, 0)
      assert.equal(upstream.aborted, 0, 'the refresh ran to its end')
    })
  }
})
