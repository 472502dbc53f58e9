import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { Bot, GrammyError } from 'grammy'
import { createStore, type Store } from '../../../src/index.js'
import { floodControl, type FloodControlOptions } from '../../../src/integrations/grammy/index.js'
import { BOT_INFO, FakeBotApi, TOKEN } from '../../fixtures/fake-bot-api.js'
import { waitFor } from '../../harness/processes.js'
import { Worker } from '../../harness/worker.js'
import { useRedisAndBotApi } from './two-processes.js'

/** How far apart the fake's clock and the store's may be when comparing a flood wait's end. */
const CLOCK_SLACK_MS = 25

const codeOf = (settled: PromiseSettledResult<unknown>) =>
  settled.status === 'fulfilled' ? 'sent' : ((settled.reason as { code?: string }).code ?? String((settled.reason as GrammyError).error_code))

describe('grammY floodControl: outgoing calls in one process', () => {
  let api: FakeBotApi
  let store: Store
  const transformers: Array<{ close(): Promise<void> }> = []
  before(async () => {
    api = await FakeBotApi.start()
  })
  beforeEach(() => {
    api.reset()
  })
  after(async () => {
    await Promise.all(transformers.map((t) => t.close()))
    await api.close()
  })

  function botWith(options: Partial<FloodControlOptions>) {
    store = createStore()
    const bot = new Bot(TOKEN, { botInfo: BOT_INFO, client: { apiRoot: api.url } })
    const flood = floodControl({ store, botId: BOT_INFO.id, logger: false, ...options })
    transformers.push(flood, store)
    bot.api.config.use(flood)
    return { bot, flood }
  }

  it('paces per chat and per group: calls past the limit wait, and are refused past maxWait without reaching Telegram', async () => {
    const { bot } = botWith({ perBot: false, perChat: { limit: 3, window: '1h' }, perGroup: { limit: 2, window: '1h' }, maxWait: '1s' })
    const group = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => bot.api.sendMessage(-100, `g${i}`)))
    const user = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => bot.api.sendMessage(7, `u${i}`)))
    assert.deepEqual(group.map(codeOf).sort(), ['E_FLOOD_CONTROL_TIMEOUT', 'E_FLOOD_CONTROL_TIMEOUT', 'sent', 'sent'], 'the group rule (2) is tighter than the chat rule (3)')
    assert.deepEqual(user.map(codeOf).sort(), ['E_FLOOD_CONTROL_TIMEOUT', 'sent', 'sent', 'sent'], 'a private chat has no group rule')
    assert.equal(api.callsOf('sendMessage').length, 5, 'refused calls never reached the API')
    const refused = group.find((s) => s.status === 'rejected') as PromiseRejectedResult
    assert.equal(refused.reason.reason, 'pacing')
    assert.equal(refused.reason.chat, '-100')
  })

  it('an album costs one turn per message; methods outside the paced set are not counted', async () => {
    const { bot } = botWith({ perBot: { limit: 4, window: '1h' }, perChat: false, perGroup: false, maxWait: '1s' })
    const media = [1, 2, 3].map((i) => ({ type: 'photo' as const, media: `https://example.invalid/${i}.jpg` }))
    await bot.api.sendMediaGroup(7, media)
    for (let i = 0; i < 5; i++) await bot.api.sendChatAction(7, 'typing')
    await bot.api.sendMessage(7, 'fits: 3 + 1 = 4')
    await assert.rejects(bot.api.sendMediaGroup(8, media), { code: 'E_FLOOD_CONTROL_TIMEOUT' })
    assert.deepEqual(api.calls.map((c) => c.method), ['sendMediaGroup', ...Array(5).fill('sendChatAction'), 'sendMessage'])
  })

  it("a 429 holds the chat (floodWaitScope 'chat') until retry_after has passed, then the call is sent again", async () => {
    const { bot, flood } = botWith({ perBot: false, perChat: false, perGroup: false })
    api.floodNext('sendMessage', 1)
    const recorded = new Promise((resolve) => flood.events.once('flood-wait', resolve))
    const first = bot.api.sendMessage(5, 'refused, then retried')
    await recorded
    const other = bot.api.sendMessage(6, 'another chat is not held')
    const same = bot.api.sendMessage(5, 'waits for the flood wait')
    const [a, b, c] = await Promise.all([first, other, same])
    assert.ok(a.message_id && b.message_id && c.message_id)
    const calls = api.callsOf('sendMessage')
    const refusal = calls[0]!
    assert.equal(refusal.errorCode, 429)
    assert.equal(calls[1]!.payload.chat_id, 6, 'chat 6 went first, during the wait')
    const after429 = calls.filter((call) => call.payload.chat_id === 5 && call !== refusal)
    assert.equal(after429.length, 2)
    for (const call of after429) assert.ok(call.at >= refusal.at + 1_000 - CLOCK_SLACK_MS, `a call to chat 5 came ${call.at - refusal.at} ms after the 429`)
  })

  it("floodWaitScope 'bot': a 429 holds every chat", async () => {
    const { bot, flood } = botWith({ perBot: false, perChat: false, perGroup: false, floodWaitScope: 'bot' })
    api.floodNext('sendMessage', 1)
    const recorded = new Promise((resolve) => flood.events.once('flood-wait', resolve))
    const first = bot.api.sendMessage(5, 'refused, then retried')
    await recorded
    await Promise.all([first, bot.api.sendMessage(6, 'held too')])
    const [refusal, ...rest] = api.callsOf('sendMessage')
    assert.equal(rest.length, 2)
    for (const call of rest) assert.ok(call.at >= refusal!.at + 1_000 - CLOCK_SLACK_MS, `chat ${String(call.payload.chat_id)} called ${call.at - refusal!.at} ms after the 429`)
  })

  it("Telegram's wait past maxWait: its 429 is returned as it is, and calls during the wait are not sent", async () => {
    const { bot } = botWith({ perBot: false, perChat: false, perGroup: false, maxWait: '1s' })
    api.floodNext('sendMessage', 30)
    await assert.rejects(bot.api.sendMessage(5, 'x'), (err) => err instanceof GrammyError && err.error_code === 429)
    await assert.rejects(bot.api.sendMessage(5, 'y'), { code: 'E_FLOOD_CONTROL_TIMEOUT', reason: 'flood-wait' })
    await bot.api.sendChatAction(5, 'typing')
    assert.deepEqual(api.calls.map((c) => c.method), ['sendMessage', 'sendChatAction'])
  })

  it('stops retrying after maxRetries 429s and returns the last one', async () => {
    const { bot } = botWith({ perBot: false, perChat: false, perGroup: false, maxRetries: 1 })
    api.floodNext('sendMessage', 1, 2)
    await assert.rejects(bot.api.sendMessage(5, 'x'), (err) => err instanceof GrammyError && err.error_code === 429)
    assert.equal(api.callsOf('sendMessage').length, 2, 'the call and one retry')
  })

  it('bad options throw E_INVALID_OPTION at setup, naming the option', async () => {
    const memory = createStore()
    const base = { store: memory, botId: 1 }
    const cases: Array<[unknown, string]> = [
      [{ botId: 1 }, 'store'],
      [{ store: memory }, 'botId'],
      [{ ...base, botId: 'a:b' }, 'botId'],
      [{ ...base, perChat: { limit: 0, window: '1s' } }, 'perChat.limit'],
      [{ ...base, perGroup: { limit: 20, window: 'a minute' } }, 'perGroup.window'],
      [{ ...base, perBot: { limit: 30, window: '1s', burst: 5 } }, 'perBot.burst'],
      [{ ...base, perBot: true }, 'perBot'],
      [{ ...base, maxWait: -1 }, 'maxWait'],
      [{ ...base, maxRetries: 1.5 }, 'maxRetries'],
      [{ ...base, floodWaitScope: 'user' }, 'floodWaitScope'],
      [{ ...base, methods: ['send message'] }, 'methods.0'],
      [{ ...base, onStoreError: 'ignore' }, 'onStoreError'],
      [{ ...base, perchat: false }, 'perchat'],
    ]
    for (const [options, option] of cases) {
      assert.throws(() => floodControl(options as FloodControlOptions), (err: { code?: string; option?: string }) => err.code === 'E_INVALID_OPTION' && err.option === option, option)
    }
    await memory.close()
  })
})

describe('grammY floodControl across processes', () => {
  const env = useRedisAndBotApi()

  const start = (flood: Record<string, unknown>) => Promise.all([0, 1].map(() => Worker.start('grammy-worker.js', [env.redis.url, env.api.url, JSON.stringify({ flood })])))

  it('2 processes x 5 messages, per bot limit 5: exactly 5 reach the API', async () => {
    const workers = await start({ perBot: { limit: 5, window: '1h' }, perChat: false, perGroup: false, maxWait: '1s' })
    try {
      const results = await Promise.all(workers.map((w, i) => w.send<{ sent: number; errors: string[] }>({ cmd: 'send', chats: Array(5).fill(100 + i) })))
      assert.equal(results[0]!.sent + results[1]!.sent, 5, JSON.stringify(results))
      assert.deepEqual([...results[0]!.errors, ...results[1]!.errors], Array(5).fill('E_FLOOD_CONTROL_TIMEOUT'))
      assert.equal(env.api.callsOf('sendMessage').length, 5)
    } finally {
      await Promise.all(workers.map((w) => w.stop()))
    }
  })

  it('a flood wait one process was told about holds the other: no call to that chat until it is over', async () => {
    const [a, b] = await start({ perBot: false, perChat: false, perGroup: false })
    const store = createStore({ url: env.redis.url })
    try {
      env.api.floodNext('sendMessage', 1)
      const first = a!.send<{ sent: number }>({ cmd: 'send', chats: [5] })
      await waitFor('the flood wait in Redis', async () => (await store.pttl(`tg-flood:{${BOT_INFO.id}}:5`)) > 0)
      const [fromA, fromB] = await Promise.all([first, b!.send<{ sent: number }>({ cmd: 'send', chats: [5, 6] })])
      assert.deepEqual([fromA.sent, fromB.sent], [1, 2])
      const calls = env.api.callsOf('sendMessage')
      const refusal = calls[0]!
      assert.equal(refusal.errorCode, 429)
      const toChat5 = calls.filter((call) => call.payload.chat_id === 5 && call !== refusal)
      assert.equal(toChat5.length, 2, "A's retry and B's call")
      for (const call of toChat5) assert.ok(call.at >= refusal.at + 1_000 - CLOCK_SLACK_MS, `a call to chat 5 came ${call.at - refusal.at} ms after the 429`)
      assert.ok(calls.findIndex((call) => call.payload.chat_id === 6) < calls.indexOf(toChat5[0]!), 'chat 6 was not held')
    } finally {
      await Promise.all([a!.stop(), b!.stop()])
      await store.close()
    }
  })

  it('Redis down: each process paces on its own in memory, and says so once', async () => {
    const lines: string[] = []
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), info: (m: string) => lines.push(`info ${m}`) }
    const dead = createStore({ url: env.redis.url, commandTimeout: 200, reconnectMaxDelay: '200ms' })
    await dead.ping()
    await env.redis.kill9()
    const bot = new Bot(TOKEN, { botInfo: BOT_INFO, client: { apiRoot: env.api.url } })
    const flood = floodControl({ store: dead, botId: BOT_INFO.id, perBot: { limit: 2, window: '1h' }, perChat: false, perGroup: false, maxWait: '1s', logger })
    bot.api.config.use(flood)
    try {
      const settled = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => bot.api.sendMessage(10 + i, 'x')))
      assert.deepEqual(settled.map(codeOf).sort(), ['E_FLOOD_CONTROL_TIMEOUT', 'E_FLOOD_CONTROL_TIMEOUT', 'E_FLOOD_CONTROL_TIMEOUT', 'sent', 'sent'])
      assert.equal(flood.limiter?.stats().fallbackDecisions !== 0, true)
      assert.equal(lines.filter((l) => l.startsWith('warn')).length, 1, 'one warning for the switch')
    } finally {
      await flood.close()
      await dead.close()
      await env.redis.restart()
    }
  })
})
