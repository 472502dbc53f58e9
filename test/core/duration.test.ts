import assert from 'node:assert/strict'
import { it } from 'node:test'
import { parseDuration } from '../../src/index.js'

it('parses milliseconds and unit strings', () => {
  assert.equal(parseDuration(250), 250)
  assert.equal(parseDuration(0), 0)
  assert.equal(parseDuration('500ms'), 500)
  assert.equal(parseDuration('10s'), 10_000)
  assert.equal(parseDuration('1.5s'), 1_500)
  assert.equal(parseDuration('1m'), 60_000)
  assert.equal(parseDuration('24h'), 86_400_000)
  assert.equal(parseDuration('7d'), 604_800_000)
})

it('refuses negative, non-finite, unit-less and unknown values with E_INVALID_OPTION naming the option', () => {
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '500', '10 parsecs', '-5s', '', '1y', null, {}, '5S']) {
    assert.throws(
      () => parseDuration(bad, 'window'),
      (err: { code?: string; option?: string; value?: unknown }) =>
        err.code === 'E_INVALID_OPTION' && err.option === 'window' && Object.is(err.value, bad),
      `should refuse ${String(bad)}`,
    )
  }
})
