import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { parseBusMessage } from '../../src/cache/invalidation-bus.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'
import { Worker } from '../harness/worker.js'

describe('invalidation bus messages', () => {
  it('only well-formed envelopes of this version are taken; every field is checked', () => {
    const ok = (message: unknown) => JSON.stringify({ v: 1, from: 'other', message })
    assert.deepEqual(parseBusMessage(ok({ op: 'delete', ns: 'n', keys: ['a'] })), { from: 'other', message: { op: 'delete', ns: 'n', keys: ['a'] } })
    for (const raw of [
      'not json',
      'null',
      '"a string"',
      JSON.stringify({ from: 'other', message: { op: 'delete', ns: 'n', keys: ['a'] } }),
      JSON.stringify({ v: 2, from: 'other', message: { op: 'delete', ns: 'n', keys: ['a'] } }),
      ok({ op: 'delete', ns: 'n' }),
      ok({ op: 'delete', ns: 'n', keys: [1] }),
      ok({ op: 'delete', ns: 'n', keys: Array.from({ length: 10_001 }, () => 'k') }),
      ok({ op: 'tags', ns: 'n', tags: ['t'] }),
      ok({ op: 'tags', ns: 'n', tags: ['t'], at: 'now' }),
      ok({ op: 'clear', ns: 'n', generation: 1.5 }),
      ok({ op: 'clear', generation: 2 }),
      ok({ op: 'drop-everything', ns: 'n' }),
      ok(null),
    ]) {
      assert.equal(parseBusMessage(raw), undefined, raw.slice(0, 80))
    }
  })

  describe('on Redis, across processes', () => {
    let server: RedisServer
    let a: Worker
    let b: Worker
    before(async () => {
      server = await RedisServer.start()
      ;[a, b] = await Promise.all([Worker.start('cache-worker.js', [server.url, 'chat']), Worker.start('cache-worker.js', [server.url, 'chat'])])
    })
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()])
      await server?.stop()
    })

    it('malformed messages published by anyone on the channel crash no instance; the next valid one is applied', async () => {
      await a.send({ op: 'set', key: 'k', value: 'v' })
      assert.deepEqual(await b.send({ op: 'get', key: 'k' }), { value: 'v' })
      for (const raw of ['{"from":"x","message":{"op":"delete","ns":"chat"}}', '{"v":1,"from":"x","message":{"op":"delete","ns":"chat"}}', 'null', '{"v":1,"from":"x","message":{"op":"tags","ns":"chat","tags":null,"at":1}}', '[]']) {
        await server.cli('PUBLISH', 'c:bus', raw)
      }
      await a.send({ op: 'delete', key: 'k' })
      await waitFor('b to drop k', async () => ((await b.send<{ value: unknown }>({ op: 'get', key: 'k' })).value ?? null) === null, 5_000)
      assert.equal(a.exit, null, 'a is up')
      assert.equal(b.exit, null, 'b is up')
    })
  })
})
