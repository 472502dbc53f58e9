import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Bot, type Context, lazySession, session, type SessionFlavor } from 'grammy'
import { createSessionStore, createStore, ManualClock } from '../../../src/index.js'
import { sessionStorage, type TollgateStorageAdapter, updateSession } from '../../../src/integrations/grammy/index.js'
import { BOT_INFO, messageUpdate, TOKEN } from '../../fixtures/fake-bot-api.js'
import { Worker } from '../../harness/worker.js'
import { useRedisAndBotApi } from './two-processes.js'

type Counter = { count: number; seen?: string[] }
type BotContext = Context & SessionFlavor<Counter>

function newBot() {
  return new Bot<BotContext>(TOKEN, { botInfo: BOT_INFO, client: { apiRoot: 'http://127.0.0.1:9' } })
}

describe('grammY session storage over the session store', () => {
  it("session({ storage }) keeps a chat's session, per chat, with the session store's TTL", async () => {
    const clock = new ManualClock()
    const store = createStore({ clock })
    const sessions = createSessionStore<Counter>({ store, ttl: '1m', sliding: false })
    const bot = newBot()
    bot.use(session({ storage: sessionStorage(sessions), initial: () => ({ count: 0 }) }))
    const counts: number[] = []
    bot.on('message', (ctx) => void counts.push(++ctx.session.count))
    await bot.handleUpdate(messageUpdate(1, 5, 5) as never)
    await bot.handleUpdate(messageUpdate(2, 5, 5) as never)
    await bot.handleUpdate(messageUpdate(3, 6, 6) as never)
    assert.deepEqual(counts, [1, 2, 1])
    assert.deepEqual(await sessions.get('5'), { count: 2 }, 'stored under the chat id, in the session store')
    clock.advance(61_000)
    await bot.handleUpdate(messageUpdate(4, 5, 5) as never)
    assert.equal(counts.at(-1), 1, 'expired after the TTL: a new session')
    await sessions.close()
    await store.close()
  })

  it('ctx.session = null deletes the session from the store', async () => {
    const sessions = createSessionStore<Counter>()
    const bot = newBot()
    bot.use(session({ storage: sessionStorage(sessions), initial: () => ({ count: 0 }) }))
    bot.command('reset', (ctx) => {
      ;(ctx as { session: Counter | null }).session = null
    })
    bot.on('message', (ctx) => void ctx.session.count++)
    await bot.handleUpdate(messageUpdate(1, 5, 5) as never)
    assert.deepEqual(await sessions.get('5'), { count: 1 })
    const reset = messageUpdate(2, 5, 5, '/reset') as { message: Record<string, unknown> }
    reset.message.entities = [{ type: 'bot_command', offset: 0, length: 6 }]
    await bot.handleUpdate(reset as never)
    assert.equal(await sessions.get('5'), undefined)
    await sessions.close()
  })

  it('a handler that only read the session does not write back a stale copy over a concurrent change', async () => {
    const sessions = createSessionStore<Counter>()
    await sessions.set('5', { count: 10 })
    const bot = newBot()
    bot.use(session({ storage: sessionStorage(sessions) }))
    bot.on('message', async (ctx) => {
      assert.equal(ctx.session.count, 10)
      // Another process changes the session while this handler runs.
      await sessions.update('5', (s) => ({ count: (s?.count ?? 0) + 1 }))
    })
    await bot.handleUpdate(messageUpdate(1, 5, 5) as never)
    assert.deepEqual(await sessions.get('5'), { count: 11 }, "grammY's write-back of the unchanged session was skipped")
    await sessions.close()
  })

  it('a read-only update of a chat with no session yet does not erase what updateSession stored meanwhile', async () => {
    const sessions = createSessionStore<Counter>()
    const storage = sessionStorage(sessions)
    const bot = newBot()
    bot.use(session({ storage, initial: () => ({ count: 0 }) }))
    let booked!: () => void
    const bookedMeanwhile = new Promise<void>((resolve) => (booked = resolve))
    let readerSaw: number | undefined
    let readerStarted!: () => void
    const readerHasSession = new Promise<void>((resolve) => (readerStarted = resolve))
    bot.on('message', async (ctx) => {
      if (ctx.message.text === 'book') {
        await updateSession(ctx, storage, (s) => ({ count: (s?.count ?? 0) + 1 }))
        return
      }
      // Reads the session made by initial(), and finishes only after the booking was stored.
      readerSaw = ctx.session.count
      readerStarted()
      await bookedMeanwhile
    })
    const reader = bot.handleUpdate(messageUpdate(1, 5, 5, 'status?') as never)
    await readerHasSession
    await bot.handleUpdate(messageUpdate(2, 5, 5, 'book') as never)
    booked()
    await reader
    assert.equal(readerSaw, 0)
    assert.deepEqual(await sessions.get('5'), { count: 1 }, "the write-back of initial()'s session did not replace the booking")
    await sessions.close()
  })

  it('without initial(), a read-only update of a chat with no session does not delete what updateSession stored meanwhile', async () => {
    const sessions = createSessionStore<Counter>()
    const storage = sessionStorage(sessions)
    const bot = newBot()
    bot.use(session({ storage }))
    let booked!: () => void
    const bookedMeanwhile = new Promise<void>((resolve) => (booked = resolve))
    let readerStarted!: () => void
    const readerHasSession = new Promise<void>((resolve) => (readerStarted = resolve))
    bot.on('message', async (ctx) => {
      if (ctx.message.text === 'book') {
        await updateSession(ctx, storage, (s) => ({ count: (s?.count ?? 0) + 1 }))
        return
      }
      assert.equal(ctx.session, undefined)
      readerStarted()
      await bookedMeanwhile
    })
    const reader = bot.handleUpdate(messageUpdate(1, 5, 5, 'status?') as never)
    await readerHasSession
    await bot.handleUpdate(messageUpdate(2, 5, 5, 'book') as never)
    booked()
    await reader
    assert.deepEqual(await sessions.get('5'), { count: 1 }, 'grammY deletes an undefined session; the adapter left the new one alone')
    await sessions.close()
  })

  it('a session built on a new chat is still saved when nobody else made one, and replacing a session still replaces it', async () => {
    const sessions = createSessionStore<Counter>()
    const storage = sessionStorage(sessions)
    const bot = newBot()
    bot.use(session({ storage, initial: () => ({ count: 0 }) }))
    bot.command('reset', (ctx) => {
      ctx.session = { count: 100 }
    })
    bot.on('message', async (ctx) => {
      if (ctx.message.text === 'book') await updateSession(ctx, storage, (s) => ({ count: (s?.count ?? 0) + 1 }))
      else ctx.session.count += 10
    })
    const reset = (id: number, chat: number) => {
      const update = messageUpdate(id, chat, chat, '/reset') as { message: Record<string, unknown> }
      update.message.entities = [{ type: 'bot_command', offset: 0, length: 6 }]
      return update as never
    }
    await bot.handleUpdate(messageUpdate(1, 5, 5, 'add') as never)
    assert.deepEqual(await sessions.get('5'), { count: 10 }, 'a changed initial() session, saved')
    await bot.handleUpdate(reset(2, 5))
    assert.deepEqual(await sessions.get('5'), { count: 100 }, 'a session assigned whole over an existing one, saved')
    // A new chat whose first update uses updateSession, then a reset: the first update's read of "no
    // session" must not make the reset look like a session built on a new chat.
    await bot.handleUpdate(messageUpdate(3, 6, 6, 'book') as never)
    await bot.handleUpdate(reset(4, 6))
    assert.deepEqual(await sessions.get('6'), { count: 100 })
    await sessions.close()
  })

  it('updateSession: concurrent updates of one chat in one process all count, and the result is ctx.session', async () => {
    const sessions = createSessionStore<Counter>()
    const storage = sessionStorage(sessions)
    const bot = newBot()
    bot.use(session({ storage, initial: () => ({ count: 0 }) }))
    const seenInHandler: number[] = []
    bot.on('message', async (ctx) => {
      await updateSession(ctx, storage, (s) => ({ count: (s?.count ?? 0) + 1 }))
      seenInHandler.push(ctx.session.count)
    })
    // Plain ctx.session.count++ here would end at 1: all 20 read 0 before any writes back.
    await Promise.all(Array.from({ length: 20 }, (_, i) => bot.handleUpdate(messageUpdate(i + 1, 5, 5) as never)))
    assert.deepEqual(await sessions.get('5'), { count: 20 })
    assert.deepEqual([...seenInHandler].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), 'each handler saw its own result')
    await sessions.close()
  })

  it('updateSession works with lazy sessions and with an explicit key', async () => {
    const sessions = createSessionStore<Counter>()
    const storage = sessionStorage(sessions)
    const bot = new Bot<Context & { session: Promise<Counter> | Counter }>(TOKEN, { botInfo: BOT_INFO, client: { apiRoot: 'http://127.0.0.1:9' } })
    bot.use(lazySession({ storage, prefix: 'lazy-', initial: () => ({ count: 0 }) }))
    bot.on('message', async (ctx) => {
      await updateSession(ctx, storage, (s) => ({ count: (s?.count ?? 0) + 1 }), { key: `lazy-${ctx.chat.id}` })
    })
    await Promise.all(Array.from({ length: 5 }, (_, i) => bot.handleUpdate(messageUpdate(i + 1, 5, 5) as never)))
    assert.deepEqual(await sessions.get('lazy-5'), { count: 5 })
    await sessions.close()
  })

  it('bad arguments throw E_INVALID_OPTION', async () => {
    const sessions = createSessionStore<Counter>()
    const isInvalid = (option: string) => (err: { code?: string; option?: string }) => err.code === 'E_INVALID_OPTION' && err.option === option
    assert.throws(() => sessionStorage({} as never), isInvalid('sessions'))
    assert.throws(() => sessionStorage(undefined as never), isInvalid('sessions'))
    const storage = sessionStorage(sessions)
    const noChat = { chatId: undefined } as unknown as Context
    await assert.rejects(updateSession(noChat, storage, () => ({ count: 1 })), isInvalid('key'))
    await assert.rejects(updateSession(noChat, {} as TollgateStorageAdapter<Counter>, () => ({ count: 1 })), isInvalid('storage'))
    await sessions.close()
  })
})

describe('grammY sessions across processes', () => {
  const env = useRedisAndBotApi()

  it('2 processes x 20 concurrent updates of one chat, each appending with updateSession: all 40 kept', async () => {
    const workers = await Promise.all([0, 1].map(() => Worker.start('grammy-worker.js', [env.redis.url, env.api.url, '{}'])))
    try {
      const results = await Promise.all(workers.map((w) => w.send<{ handled: number }>({ cmd: 'updates', chat: -500, user: 7, count: 20, text: 'append' })))
      assert.deepEqual(results.map((r) => r.handled), [20, 20])
    } finally {
      await Promise.all(workers.map((w) => w.stop()))
    }
    const store = createStore({ url: env.redis.url })
    const sessions = createSessionStore<{ items: string[] }>({ store })
    const items = (await sessions.get('-500'))?.items ?? []
    assert.equal(items.length, 40, `lost updates: ${40 - items.length}`)
    assert.equal(new Set(items).size, 40)
    await sessions.close()
    await store.close()
  })

  it("read-only updates in one process on a new chat do not erase another process's updateSession appends", { timeout: 60_000 }, async () => {
    const config = JSON.stringify({ initial: true })
    const start = () => Worker.start('grammy-worker.js', [env.redis.url, env.api.url, config])
    const [reader, writer] = await Promise.all([start(), start()])
    const store = createStore({ url: env.redis.url })
    const sessions = createSessionStore<{ items: string[] }>({ store })
    try {
      // 5 updates read the chat's (absent) session and hold their write-back until all 20 appends are stored.
      const reading = reader.send<{ handled: number }>({ cmd: 'updates', chat: -600, user: 7, count: 5, text: 'read-and-hold' })
      const deadline = Date.now() + 20_000
      while (Number((await store.get('readers'))?.toString() ?? 0) < 5) {
        assert.ok(Date.now() < deadline, 'the readers never started')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      assert.deepEqual(await writer.send({ cmd: 'updates', chat: -600, user: 8, count: 20, text: 'append' }), { handled: 20, exceeded: 0 })
      await store.set('release', '1')
      assert.deepEqual(await reading, { handled: 5, exceeded: 0 })
    } finally {
      await Promise.all([reader.stop(), writer.stop()])
    }
    const items = (await sessions.get('-600'))?.items ?? []
    assert.equal(items.length, 20, `lost appends: ${20 - items.length}`)
    await sessions.close()
    await store.close()
  })
})
