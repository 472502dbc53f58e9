import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Bot, type Context } from 'grammy'
import { createStore, ManualClock, type RateLimitDecision, type Store } from '../../../src/index.js'
import { limit, type LimitOptions } from '../../../src/integrations/grammy/index.js'
import { BOT_INFO, messageUpdate, TOKEN } from '../../fixtures/fake-bot-api.js'
import { Worker } from '../../harness/worker.js'
import { useRedisAndBotApi } from './two-processes.js'

/** A bot whose only handler counts the updates that got through `limit(options)`. */
function limitedBot(options: LimitOptions, apiRoot = 'http://127.0.0.1:9') {
  const bot = new Bot(TOKEN, { botInfo: BOT_INFO, client: { apiRoot } })
  const handled: Array<{ chat: number; user: number | undefined }> = []
  const exceeded: RateLimitDecision[] = []
  const middleware = limit({ logger: false, onLimitExceeded: (_ctx: Context, d: RateLimitDecision) => void exceeded.push(d), ...options })
  bot.use(middleware)
  bot.on('message', (ctx) => void handled.push({ chat: ctx.chat.id, user: ctx.from?.id }))
  let updateId = 0
  const send = (chat: number, user: number, count = 1) =>
    Promise.all(Array.from({ length: count }, () => bot.handleUpdate(messageUpdate(++updateId, chat, user) as never)))
  return { bot, handled, exceeded, middleware, send }
}

describe('grammY limit(): incoming updates', () => {
  it('several rules decide together: 1 per second and 3 per minute', async () => {
    const clock = new ManualClock()
    const store = createStore({ clock })
    const { handled, middleware, send } = limitedBot({ store, rules: [{ limit: 1, window: '1s' }, { limit: 3, window: '1m' }] })
    await send(42, 42)
    await send(42, 42)
    assert.equal(handled.length, 1, 'the second update within the second is refused')
    clock.advance(1_200)
    await send(42, 42)
    clock.advance(1_200)
    await send(42, 42)
    assert.equal(handled.length, 3)
    clock.advance(1_200)
    await send(42, 42)
    assert.equal(handled.length, 3, 'the per-second rule has room, the per-minute rule does not')
    // A sliding window keeps a request counted for up to window + window/buckets (66 s here).
    clock.advance(70_000)
    await send(42, 42)
    assert.equal(handled.length, 4)
    await middleware.close()
    await store.close()
  })

  it('keys per user by default, per chat or globally with keyGenerator, and apart per keyPrefix', async () => {
    const perUser = limitedBot({ rules: [{ limit: 1, window: '1h' }] })
    await perUser.send(-100, 1)
    await perUser.send(-100, 2)
    await perUser.send(-100, 1)
    assert.deepEqual(perUser.handled.map((h) => h.user), [1, 2], 'two users of one group each have their own quota')

    const perChat = limitedBot({ rules: [{ limit: 1, window: '1h' }], keyGenerator: (ctx) => ctx.chat?.id })
    await perChat.send(-100, 1)
    await perChat.send(-100, 2)
    await perChat.send(-200, 2)
    assert.deepEqual(perChat.handled.map((h) => h.chat), [-100, -200], 'the group is limited as one')

    const global = limitedBot({ rules: [{ limit: 2, window: '1h' }], keyGenerator: () => 'all' })
    await global.send(1, 1)
    await global.send(2, 2)
    await global.send(3, 3)
    assert.equal(global.handled.length, 2)

    const store = createStore()
    const tenantA = limitedBot({ store, rules: [{ limit: 1, window: '1h' }], keyPrefix: 'booking_bot:client1' })
    const tenantB = limitedBot({ store, rules: [{ limit: 1, window: '1h' }], keyPrefix: 'booking_bot:client2' })
    const unprefixed = limitedBot({ store, rules: [{ limit: 1, window: '1h' }] })
    await tenantA.send(7, 7, 2)
    await tenantB.send(7, 7, 2)
    await unprefixed.send(7, 7, 2)
    assert.deepEqual([tenantA.handled.length, tenantB.handled.length, unprefixed.handled.length], [1, 1, 1], 'one store, three separate counters for user 7')
    assert.equal((await tenantA.middleware.limiter.peek('booking_bot:client1:7')).remaining, 0, 'the key is the prefix and the user id')
    await Promise.all([perUser, perChat, global, tenantA, tenantB, unprefixed].map((b) => b.middleware.close()))
    await store.close()
  })

  it('an update without a key goes through unlimited', async () => {
    const { handled, middleware, send } = limitedBot({ rules: [{ limit: 1, window: '1h' }], keyGenerator: () => undefined })
    await send(5, 5, 3)
    assert.equal(handled.length, 3)
    await middleware.close()
  })

  it('onLimitExceeded is called once per refusal period, not once per message', async () => {
    const clock = new ManualClock()
    const store = createStore({ clock })
    const { handled, exceeded, middleware, send } = limitedBot({ store, clock, rules: [{ limit: 1, window: '10s' }] })
    await send(42, 42, 20)
    assert.equal(handled.length, 1)
    assert.equal(exceeded.length, 1, '19 refusals, one report')
    assert.equal(exceeded[0]?.allowed, false)
    clock.advance(1_000)
    await send(42, 42, 5)
    assert.equal(exceeded.length, 1, 'still the same refusal period')
    await send(43, 43, 5)
    assert.equal(exceeded.length, 2, 'another key has its own report')
    clock.advance(12_000)
    await send(42, 42, 20)
    assert.equal(handled.length, 3)
    assert.equal(exceeded.length, 3, 'a new period, a new report')
    await middleware.close()
    await store.close()
  })

  it('bad options throw E_INVALID_OPTION at setup, naming the option', async () => {
    const built = limit()
    const cases: Array<[unknown, string]> = [
      [{ rules: [{ limit: 0, window: '1s' }] }, 'rules.0.limit'],
      [{ rules: [{ limit: 1, window: 'soon' }] }, 'rules.0.window'],
      [{ keyPrefix: 'has space' }, 'keyPrefix'],
      [{ keyGenerator: 'from' }, 'keyGenerator'],
      [{ onLimitExceeded: true }, 'onLimitExceeded'],
      [{ onStoreError: 'ignore' }, 'onStoreError'],
      [{ store: {} }, 'store'],
      [{ limiter: built.limiter, rules: [{ limit: 1, window: '1s' }] }, 'rules'],
      [{ keygenerator: () => 1 }, 'keygenerator'],
    ]
    for (const [options, option] of cases) {
      assert.throws(() => limit(options as LimitOptions), (err: { code?: string; option?: string }) => err.code === 'E_INVALID_OPTION' && err.option === option, option)
    }
    await built.close()
  })
})

describe('grammY limit() across processes and through Redis failures', () => {
  const env = useRedisAndBotApi()

  it('2 processes x 10 updates of one user, limit 5: exactly 5 handled and one onLimitExceeded in all', async () => {
    const config = JSON.stringify({ rules: [{ limit: 5, window: '1m' }], keyPrefix: 'race' })
    const workers = await Promise.all([0, 1].map(() => Worker.start('grammy-worker.js', [env.redis.url, env.api.url, config])))
    try {
      const results = await Promise.all(workers.map((w) => w.send<{ handled: number; exceeded: number }>({ cmd: 'updates', chat: 42, user: 42, count: 10 })))
      assert.equal(results[0]!.handled + results[1]!.handled, 5, JSON.stringify(results))
      assert.equal(results[0]!.exceeded + results[1]!.exceeded, 1, 'the refusal is reported by one process only')
    } finally {
      await Promise.all(workers.map((w) => w.stop()))
    }
  })

  it('Redis down: a memory limiter takes over in the process, and says so once', async () => {
    const lines: string[] = []
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), info: (m: string) => lines.push(`info ${m}`) }
    const store: Store = createStore({ url: env.redis.url, commandTimeout: 200, reconnectMaxDelay: '200ms' })
    const { handled, middleware, send } = limitedBot({ store, rules: [{ limit: 2, window: '1h' }], logger })
    await send(9, 9)
    assert.equal(handled.length, 1)
    await env.redis.kill9()
    try {
      for (let i = 0; i < 6; i++) await send(9, 9)
      assert.equal(handled.length, 3, 'the fallback allows its own 2 per hour: limited, not open')
      assert.equal(middleware.limiter.stats().fallbackDecisions >= 6, true)
      assert.equal(lines.filter((l) => l.startsWith('warn')).length, 1, 'one warning for the switch, not one per update')
    } finally {
      await env.redis.restart()
    }
    await middleware.close()
    await store.close()
  })
})
