import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createRateLimiter, createStore } from '../../src/index.js'
import type { MemoryStore } from '../../src/stores/memory-store.js'

it('memory store: 1,000,000 distinct keys stay within maxBytes', async () => {
  const maxBytes = 32 * 1024 * 1024
  const store = createStore({ maxBytes }) as MemoryStore
  const limiter = createRateLimiter({ store, limit: 10, window: '1m', logger: false })
  for (let i = 0; i < 1_000_000; i++) await limiter.consume(`user:${i}`)
  assert.ok(store.bytes <= maxBytes, `${store.bytes} bytes accounted, budget ${maxBytes}`)
  assert.ok(store.size < 1_000_000, 'older keys were evicted to stay in budget')
  assert.ok(store.size > 50_000, `${store.size} keys kept: the budget is used, not wasted`)
  assert.equal((await limiter.consume('user:999999')).remaining, 8, 'recent keys are still there')
  await limiter.close()
  await store.close()
})
