// Number formats of the dashboard. Cached completions are often worth fractions of a cent, so small
// amounts keep three significant digits instead of rounding to $0.00.

const usdLarge = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 })
const usdSmall = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 3 })
const count = new Intl.NumberFormat('en-US')

/** @param {number} value */
export function usd(value) {
  return value !== 0 && Math.abs(value) < 1 ? usdSmall.format(value) : usdLarge.format(value)
}

/** @param {number} value */
export function integer(value) {
  return count.format(Math.round(value))
}

/** @param {number | null} ratio a share between 0 and 1 */
export function percent(ratio) {
  return ratio === null ? '–' : `${(ratio * 100).toFixed(1)}%`
}

/** @param {number | null} value */
export function rate(value) {
  if (value === null) return ''
  if (value === 0) return '0'
  return value >= 10 ? value.toFixed(0) : value.toFixed(value >= 1 ? 1 : 2)
}

/** @param {number | null} ms */
export function millis(ms) {
  if (ms === null) return ''
  if (ms === 0) return '0'
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(ms >= 10 ? 1 : 2)
}

/** @param {number} seconds */
export function duration(seconds) {
  const s = Math.floor(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`
}
