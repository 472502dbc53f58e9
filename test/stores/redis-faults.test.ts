import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createStore, type Store, type StoreScript } from '../../src/index.js'
import { waitFor } from '../harness/processes.js'
import { RedisServer } from '../harness/redis-server.js'

const COMMAND_TIMEOUT_MS = 100
const LUA = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
/** Keeps the server busy for ARGV[1] ms, then answers: a store that answers, slowly. */
const SPIN_LUA = "local t = redis.call('TIME') local start = t[1] * 1000 + t[2] / 1000 repeat t = redis.call('TIME') until t[1] * 1000 + t[2] / 1000 - start >= tonumber(ARGV[1]) return 1"
const SPIN: StoreScript<number> = { name: 'test-spin', lua: SPIN_LUA, sha: createHash('sha1').update(SPIN_LUA).digest('hex'), memory: () => 1 }

/** Blocks this process's event loop for `ms`: what a GC pause or a burst of work does to a gateway. */
function stall(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until);
}

const ADD: StoreScript<number> = {
  name: 'test-add',
  lua: LUA,
  sha: createHash('sha1').update(LUA).digest('hex'),
  memory: () => 0,
}

/**
 * How `work` ended: its error, or undefined. The code tells fail-fast from waiting (E_STORE_UNAVAILABLE
 * at once, E_STORE_TIMEOUT after the command deadline); a hang fails the test after a generous bound.
 */
async function outcome(work: Promise<unknown>): Promise<{ error: unknown }> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('hung for 10 s')), 10_000)
  })
  try {
    await Promise.race([work, hang])
    return { error: undefined }
  } catch (error) {
    if ((error as Error).message === 'hung for 10 s') throw error
    return { error }
  } finally {
    clearTimeout(timer)
  }
}

describe('redis faults', () => {
  let server: RedisServer
  let store: Store

  before(async () => {
    server = await RedisServer.start()
    store = createStore({ url: server.url, commandTimeout: COMMAND_TIMEOUT_MS, reconnectMaxDelay: '200ms' })
    await store.set('warm', '1')
  })
  after(async () => {
    await store.close()
    await server.stop()
  })

  it('killed: a command fails fast with E_STORE_UNAVAILABLE; after restart the same store works again', async () => {
    const events: string[] = []
    store.events.on('disconnect', () => events.push('disconnect'))
    store.events.on('ready', () => events.push('ready'))
    await server.kill9()
    const { error } = await outcome(store.get('warm'))
    assert.equal((error as { code?: string })?.code, 'E_STORE_UNAVAILABLE', 'failed at once, not at the command deadline')
    await server.restart()
    await waitFor('the store to reconnect', async () => (await store.set('after', 'restart')) === true, 10_000)
    assert.equal((await store.get('after'))?.toString(), 'restart')
    assert.deepEqual(events.slice(0, 1), ['disconnect'])
    assert.ok(events.includes('ready'))
  })

  it('paused (SIGSTOP): a command fails with E_STORE_TIMEOUT instead of hanging, and works after SIGCONT', async () => {
    server.pause()
    try {
      const { error } = await outcome(store.get('warm'))
      assert.equal((error as { code?: string })?.code, 'E_STORE_TIMEOUT')
      const results = await Promise.allSettled([store.increment('p'), store.set('q', 'v'), store.runScript(ADD, ['r'], [1])])
      for (const result of results) {
        assert.equal(result.status, 'rejected')
        assert.equal((result.reason as { code?: string }).code, 'E_STORE_TIMEOUT')
      }
    } finally {
      server.resume()
    }
    await waitFor('commands to succeed again', async () => (await store.set('resumed', 'yes')) === true)
    assert.equal((await store.get('resumed'))?.toString(), 'yes')
  })

  it('SCRIPT FLUSH between two script calls: the second still succeeds', async () => {
    assert.equal(await store.runScript(ADD, ['flushed'], [2]), 2)
    assert.equal(await server.cli('SCRIPT', 'FLUSH'), 'OK')
    assert.equal(await server.cli('SCRIPT', 'EXISTS', ADD.sha), '0')
    assert.equal(await store.runScript(ADD, ['flushed'], [3]), 5)
    assert.equal(await server.cli('SCRIPT', 'EXISTS', ADD.sha), '1')
  })

  it('a store created while Redis is down fails fast, then connects when it comes up', async () => {
    const down = await RedisServer.start()
    await down.kill9()
    const early = createStore({ url: down.url, connectTimeout: '300ms', reconnectMaxDelay: '100ms' })
    try {
      const { error } = await outcome(early.get('k'))
      assert.equal((error as { code?: string })?.code, 'E_STORE_UNAVAILABLE')
      const { error: later } = await outcome(early.get('k'))
      assert.equal((later as { code?: string })?.code, 'E_STORE_UNAVAILABLE', 'after the connect window a command fails at once, not at its deadline')
      await down.restart()
      await waitFor('the late connection', async () => (await early.set('k', 'v')) === true)
    } finally {
      await early.close()
      await down.stop()
    }
  })

  it('close() returns promptly even while the server is paused', async () => {
    const paused = createStore({ url: server.url, closeTimeout: '200ms' })
    await paused.set('x', '1')
    server.pause()
    try {
      const pending = outcome(paused.get('x'))
      assert.equal((await outcome(paused.close())).error, undefined, 'close() resolves within its closeTimeout')
      assert.match(String(((await pending).error as { code?: string })?.code), /^E_STORE_(CLOSED|TIMEOUT)$/)
    } finally {
      server.resume()
    }
  })

  it('a reply that arrived while the event loop was stalled past the deadline is taken, not timed out', async () => {
    const reading = store.get('warm')
    // The reply lands during the stall; the deadline's timer is due before it is read.
    stall(COMMAND_TIMEOUT_MS * 3)
    const { error } = await outcome(reading)
    assert.equal(error, undefined)
  })

  it('a server busy past the timeout on one command is still found out: E_STORE_TIMEOUT', async () => {
    const { error } = await outcome(store.runScript(SPIN, ['spin:long'], [COMMAND_TIMEOUT_MS * 8]))
    assert.equal((error as { code?: string })?.code, 'E_STORE_TIMEOUT')
    await waitFor('the server to answer again', async () => (await outcome(store.get('warm'))).error === undefined, 10_000)
  })

})
