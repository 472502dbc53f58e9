import assert from 'node:assert/strict'
import { it } from 'node:test'
import { type Algorithm, createRateLimiter, ManualClock } from '../../src/index.js'

const WINDOW = 1_000
const LIMIT = 20
const BURST = 10

/**
 * Bursty traffic over many windows, heavier right around window boundaries, on a fake clock.
 * (The limiter's TypeScript path is the reference the Lua script is held identical to by the
 * differential test, so this bounds the Redis path as well.)
 */
async function run(algorithm: Algorithm, seed: number): Promise<Array<{ t: number; cost: number }>> {
  const clock = new ManualClock(1_700_000_000_000)
  const limiter = createRateLimiter({ algorithm, limit: LIMIT, window: WINDOW, ...(algorithm === 'token-bucket' ? { burst: BURST } : {}), clock, logger: false })
  let state = seed
  const rand = () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
  const allowed: Array<{ t: number; cost: number }> = []
  for (let i = 0; i < 4_000; i++) {
    const toBoundary = WINDOW - (clock.now() % WINDOW)
    // Half the time jump to just before or after a boundary, else a small random step.
    const r = rand()
    clock.advance(r < 0.25 ? Math.max(0, toBoundary - 1 - Math.floor(rand() * 5)) : r < 0.5 ? toBoundary : Math.floor(rand() * 120))
    const burst = 1 + Math.floor(rand() * 15)
    for (let b = 0; b < burst; b++) {
      const cost = 1 + Math.floor(rand() * 3)
      if ((await limiter.consume('user', { cost })).allowed) allowed.push({ t: clock.now(), cost })
    }
  }
  await limiter.close()
  return allowed
}

/** The largest total cost allowed inside any window-length span (t - window, t]. */
function worstSpan(allowed: Array<{ t: number; cost: number }>): number {
  let worst = 0
  let sum = 0
  let start = 0
  for (const entry of allowed) {
    sum += entry.cost
    while ((allowed[start] as { t: number }).t <= entry.t - WINDOW) sum -= (allowed[start++] as { cost: number }).cost
    worst = Math.max(worst, sum)
  }
  return worst
}

it('sliding window: no window-length span ever holds more than the limit', async () => {
  for (const seed of [1, 2, 3]) {
    const allowed = await run('sliding-window', seed)
    assert.ok(allowed.length > 500, 'enough traffic got through to mean something')
    assert.ok(worstSpan(allowed) <= LIMIT, `seed ${seed}: ${worstSpan(allowed)} in one window, limit ${LIMIT}`)
  }
})

it('token bucket: no window-length span ever holds more than limit + burst', async () => {
  for (const seed of [1, 2, 3]) {
    const allowed = await run('token-bucket', seed)
    assert.ok(allowed.length > 500)
    assert.ok(worstSpan(allowed) <= LIMIT + BURST, `seed ${seed}: ${worstSpan(allowed)} in one window, limit ${LIMIT} + burst ${BURST}`)
  }
})

it('fixed window (for contrast): the same traffic gets close to 2x the limit through at a boundary', async () => {
  const worst = worstSpan(await run('fixed-window', 1))
  assert.ok(worst > LIMIT * 1.5, `fixed window let ${worst} through in one span; this is the burst the other two prevent`)
})
