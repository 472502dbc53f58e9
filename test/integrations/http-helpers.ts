import { after, before } from 'node:test'
import { createSessionStore, createStore, type SessionStore, type Store } from '../../src/index.js'
import { RedisServer } from '../harness/redis-server.js'

/** For a test file: a private Redis, a store on it and a session store over that, closed after its tests. */
export function useRedisSessions(): { store: Store; sessionStore: SessionStore } {
  const env = {} as { redis: RedisServer; store: Store; sessionStore: SessionStore }
  before(async () => {
    env.redis = await RedisServer.start()
    env.store = createStore({ url: env.redis.url })
    env.sessionStore = createSessionStore({ store: env.store })
  })
  after(async () => {
    await env.sessionStore.close()
    await env.store.close()
    await env.redis.stop()
  })
  return env
}

/** Status codes of `n` sequential GETs (the Fastify and Express suites both count admissions this way). */
export async function statuses(url: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const codes: number[] = []
  for (let i = 0; i < n; i++) {
    const response = await fetch(url, { headers })
    await response.arrayBuffer()
    codes.push(response.status)
  }
  return codes
}
