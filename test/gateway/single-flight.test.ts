import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { RedisServer } from '../harness/redis-server.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { firstChunk, readRest, type RunningGateway, startGateway } from './helpers.js'

const WORKER = fileURLToPath(new URL('../fixtures/gateway-worker.js', import.meta.url))

async function startWorker(upstream: string, redis: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [WORKER, upstream, redis], { stdio: ['pipe', 'pipe', 'inherit'] })
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next()
  return { child, url: (JSON.parse(first.value as string) as { url: string }).url }
}

const chat = (content: string, stream = false) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream })
const post = (url: string, body: string) => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })

describe('single-flight through the gateway', () => {
  let upstream: FakeUpstream
  let redis: RedisServer
  before(async () => {
    upstream = await startFakeUpstream()
    redis = await RedisServer.start()
  })
  after(async () => {
    await upstream.close()
    await redis.stop()
  })

  it('20 concurrent identical requests through 2 gateway processes sharing a Redis: 1 upstream call', async () => {
    const workers = await Promise.all([0, 1].map(() => startWorker(upstream.url, redis.url)))
    try {
      upstream.reset()
      const body = chat('the same question [slow:300]')
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => post((workers[i % 2] as { url: string }).url, body)))
      const texts = await Promise.all(replies.map(async (r) => ((await r.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content))
      assert.ok(replies.every((r) => r.status === 200))
      assert.ok(texts.every((t) => t === 'echo the same question t=none'))
      assert.equal(upstream.calls['/v1/chat/completions'], 1)
      assert.equal(replies.filter((r) => r.headers.get('x-tollgate-cache') === 'MISS').length, 1, 'one leader; everyone else was served what it loaded')
    } finally {
      for (const { child } of workers) {
        const exited = once(child, 'exit')
        child.stdin!.end()
        await exited
      }
    }
  })

  describe('in one process', () => {
    let slowUpstream: FakeUpstream
    let gw: RunningGateway
    before(async () => {
      slowUpstream = await startFakeUpstream({ chunkDelayMs: 30 })
      gw = await startGateway(slowUpstream.url)
    })
    after(async () => {
      await gw.close()
      await slowUpstream.close()
    })

    it('followers of an in-flight stream receive the same stream, live', async () => {
      const body = chat('one stream for all of us', true)
      const leader = await post(gw.url, body)
      const reader = await firstChunk(leader)
      const followers = await Promise.all([post(gw.url, body), post(gw.url, body)])
      const leaderText = await readRest(reader)
      const followerTexts = await Promise.all(followers.map((f) => f.text()))
      assert.deepEqual(followers.map((f) => f.headers.get('x-tollgate-cache')), ['HIT', 'HIT'])
      for (const text of followerTexts) {
        assert.ok(text.endsWith('data: [DONE]\n\n'))
        assert.ok(text.includes('"content":"echo"'), 'a follower gets the stream from its first chunk')
      }
      assert.ok(leaderText.endsWith('data: [DONE]\n\n'))
      assert.equal(slowUpstream.calls['/v1/chat/completions'], 1)
    })
  })
})
