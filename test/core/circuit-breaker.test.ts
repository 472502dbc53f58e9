import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CircuitBreaker } from '../../src/core/circuit-breaker.js'
import { ManualClock } from '../../src/core/clock.js'

describe('circuit breaker', () => {
  it('a probe settled without a verdict (an unexpected error) frees the next call to probe: never wedged half-open', () => {
    const clock = new ManualClock(0)
    const breaker = new CircuitBreaker(clock, 1, 1_000)
    breaker.failure()
    assert.equal(breaker.state, 'open')
    clock.advance(1_000)
    assert.equal(breaker.allow(), true, 'the probe')
    assert.equal(breaker.allow(), false, 'one probe at a time')
    breaker.settle()
    assert.equal(breaker.allow(), true, 'the next call probes again')
    breaker.success()
    assert.equal(breaker.state, 'closed')
  })
})
