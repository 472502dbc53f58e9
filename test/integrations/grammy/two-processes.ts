import { after, before, beforeEach } from 'node:test'
import { FakeBotApi } from '../../fixtures/fake-bot-api.js'
import { RedisServer } from '../../harness/redis-server.js'

/**
 * For a describe block of bots in several processes: a private Redis they share and a fake Bot API
 * they all call (its record cleared before each test), stopped after the block.
 */
export function useRedisAndBotApi(): { redis: RedisServer; api: FakeBotApi } {
  const env = {} as { redis: RedisServer; api: FakeBotApi }
  before(async () => {
    env.redis = await RedisServer.start()
    env.api = await FakeBotApi.start()
  })
  beforeEach(() => env.api.reset())
  after(async () => {
    await env.api.close()
    await env.redis.stop()
  })
  return env
}
