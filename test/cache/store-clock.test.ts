import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { StoreClock } from '../../src/cache/store-clock.js'
import { ManualClock } from '../../src/core/clock.js'

describe("StoreClock: the store's time as seen from this host", () => {
  it('takes the offset from a sample and stamps early by half its round trip', () => {
    const local = new ManualClock(1_000_000)
    const clock = new StoreClock(local, true)
    // Sent at 1,000,000, answered 4 ms later with the store's 1,300,002: the store is 300,000 ahead.
    clock.observe(1_300_002, 1_000_000, 1_000_004)
    local.set(1_000_004)
    assert.equal(clock.now(), 1_300_004)
    assert.equal(clock.stamp(), 1_300_002)
  })

  it('a looser sample does not replace a tight one for a minute; forget() lets it in at once', () => {
    const local = new ManualClock(0)
    const clock = new StoreClock(local, true)
    clock.observe(1_000, 0, 2)
    local.set(10_000)
    clock.observe(50_000, 10_000, 10_400)
    assert.equal(clock.now(), 11_000 - 1, 'the tight sample still rules')
    local.set(70_001)
    clock.observe(80_000, 70_001, 70_401)
    assert.equal(clock.now(), 80_000 - 200, 'a minute later the looser one is taken')
    clock.forget()
    clock.observe(5_000, 70_401, 70_801)
    assert.equal(clock.now(), 70_001 + 5_000 - 70_601)
  })

  it('with an injected clock it learns nothing: that clock is the time', () => {
    const local = new ManualClock(5)
    const clock = new StoreClock(local, false)
    clock.observe(9_999_999, 0, 1)
    assert.deepEqual([clock.now(), clock.stamp()], [5, 5])
  })
})
