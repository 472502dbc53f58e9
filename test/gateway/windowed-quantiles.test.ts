import assert from 'node:assert/strict'
import { it } from 'node:test'
import { Histogram, Registry } from 'prom-client'
import { WindowedQuantiles } from '../../src/gateway/metrics/windowed-quantiles.js'

const BOUNDS = [0.1, 0.2, 0.5, 1]

function setup() {
  let now = 0
  const histogram = new Histogram({ name: 'h', help: 'h', labelNames: ['x'], buckets: BOUNDS, registers: [new Registry()] })
  const windowed = new WindowedQuantiles(histogram, BOUNDS, 60_000, () => now)
  return { histogram, windowed, advance: (ms: number) => (now += ms) }
}

it('counts what was observed before the first timed snapshot, interpolating within buckets', async () => {
  const { histogram, windowed, advance } = setup()
  try {
    assert.deepEqual(await windowed.quantiles([0.5]), [null], 'nothing observed yet')
    for (let i = 0; i < 100; i++) histogram.observe({ x: i % 2 === 0 ? 'a' : 'b' }, i < 90 ? 0.15 : 0.8)
    advance(5_000)
    const [p50 = null, p99 = null] = await windowed.quantiles([0.5, 0.99])
    assert.ok(p50 !== null && p50 > 0.1 && p50 <= 0.2, `p50 in the 0.1-0.2 bucket: ${p50}`)
    assert.ok(p99 !== null && p99 > 0.5 && p99 <= 1, `p99 in the 0.5-1 bucket: ${p99}`)
  } finally {
    windowed.close()
  }
})

it('forgets what is older than the window', async () => {
  const { histogram, windowed, advance } = setup()
  try {
    for (let i = 0; i < 100; i++) histogram.observe({ x: 'a' }, 0.9)
    advance(30_000)
    await windowed.quantiles([0.5])
    advance(40_000)
    for (let i = 0; i < 10; i++) histogram.observe({ x: 'a' }, 0.05)
    // The base is now the snapshot of 40 s ago, after the slow ones: only the fast ones are in the window.
    const [p50 = null] = await windowed.quantiles([0.5])
    assert.ok(p50 !== null && p50 <= 0.1, `p50 of the last minute: ${p50}`)
    advance(120_000)
    assert.deepEqual(await windowed.quantiles([0.5]), [null], 'nothing in the last minute')
  } finally {
    windowed.close()
  }
})
