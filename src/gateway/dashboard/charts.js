// The six uPlot charts. Each card says on itself (data-samples, data-nonzero) what it drew, which is
// what the browser test waits on instead of sleeping.
import { millis, percent, rate, usd } from './format.js'

const HEIGHT = 200
const RULE_COLORS = ['#c62828', '#ef6c00', '#6a1b9a', '#00838f', '#ad1457', '#4e342e']
const dash = (text) => (text === '' ? '–' : text)

/** Digits after the point of an axis step (uPlot's steps are 1, 2, 2.5 or 5 times a power of ten). */
function decimals(step) {
  const text = String(Number(step.toPrecision(6)))
  const exponent = /e-(\d+)$/.exec(text)
  return exponent ? Number(exponent[1]) : (text.split('.')[1] ?? '').length
}

const fixed = (v, digits) => v.toFixed(digits)

/**
 * Per chart: the colour of each named series, its axis labels (every tick with the digits of the
 * step, so 0.5 and 1.0 line up) and its legend values.
 */
const SPECS = {
  requests: { colors: { HIT: '#2e7d32', STALE: '#f9a825', MISS: '#1565c0', BYPASS: '#757575' }, axis: fixed, legend: (v) => (v === null ? '–' : `${rate(v)}/s`) },
  'hit-ratio': { colors: { 'since start': '#2e7d32', 'per interval': '#81c784' }, axis: (v) => `${Math.round(v * 100)}%`, legend: percent, range: [0, 1] },
  money: { colors: { saved: '#2e7d32', spent: '#c62828' }, axis: (v, digits) => `$${v.toFixed(Math.max(2, digits))}`, legend: (v) => (v === null ? '–' : usd(v)) },
  blocked: { colors: {}, axis: fixed, legend: (v) => (v === null ? '–' : `${rate(v)}/s`) },
  latency: { colors: { p50: '#1565c0', p95: '#6a1b9a' }, axis: fixed, legend: (v) => dash(millis(v)) },
  overhead: { colors: { p50: '#00838f', p99: '#ef6c00' }, axis: fixed, legend: (v) => dash(millis(v)) },
}

/** Which key of a derived series set each chart draws. */
const SOURCES = { requests: 'requests', 'hit-ratio': 'hitRatio', money: 'money', blocked: 'blocked', latency: 'latency', overhead: 'overhead' }

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
/** Whole seconds at least between time ticks: samples are seconds apart, sub-second ticks say nothing. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200]
const AXIS = { stroke: '#555', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' } }

/** The width of the longest label on a value axis, so small dollar amounts are not cut off. */
function axisSize(u, values, axisIndex, cycle) {
  const axis = u.axes[axisIndex]
  if (cycle > 1) return axis._size
  const longest = (values ?? []).reduce((a, b) => (b.length > a.length ? b : a), '')
  u.ctx.font = axis.font[0]
  return Math.ceil(axis.ticks.size + axis.gap + (longest ? u.ctx.measureText(longest).width / devicePixelRatio : 0))
}

/** The legend shows the point under the cursor, else the latest one (uPlot would show nothing). */
function shown(u, value, series, index) {
  return index === null ? (u.data[series].at(-1) ?? null) : value
}

function options(spec, labels, width) {
  return {
    width,
    height: HEIGHT,
    series: [
      {
        label: 'at',
        value: (u, t, series, index) => {
          const at = shown(u, t, series, index)
          return at === null ? '–' : time.format(at * 1000)
        },
      },
      ...labels.map((label, i) => ({
        label,
        stroke: spec.colors[label] ?? RULE_COLORS[i % RULE_COLORS.length],
        width: 2,
        value: (u, v, series, index) => spec.legend(shown(u, v, series, index)),
      })),
    ],
    scales: {
      x: { time: true },
      // From zero, and a visible height even when everything is zero (a flat line, not an empty box).
      y: { range: spec.range ?? ((_u, _min, max) => [0, max > 0 ? max * 1.1 : 1]) },
    },
    axes: [
      { ...AXIS, space: 70, incrs: TIME_STEPS, values: (_u, splits) => splits.map((t) => time.format(t * 1000)) },
      { ...AXIS, size: axisSize, values: (_u, splits, _axis, _space, step) => splits.map((v) => spec.axis(v, decimals(step))) },
    ],
  }
}

class Chart {
  /** @param {HTMLElement} card */
  constructor(card) {
    this.card = card
    this.name = card.dataset.chart
    this.spec = SPECS[this.name]
    this.plot = card.querySelector('.plot')
    this.labels = ''
    this.uplot = null
    new ResizeObserver(() => this.uplot?.setSize({ width: this.width(), height: HEIGHT })).observe(this.plot)
  }

  width() {
    return Math.max(200, this.plot.clientWidth)
  }

  /** @param {number[]} t @param {{ labels: string[], values: Array<Array<number | null>> }} set */
  draw(t, set) {
    const labels = set.labels.join('\n')
    // A new rule name means a new series: uPlot takes its series at construction.
    if (labels !== this.labels) {
      this.uplot?.destroy()
      this.uplot = new globalThis.uPlot(options(this.spec, set.labels, this.width()), [t, ...set.values], this.plot)
      this.labels = labels
    } else {
      this.uplot.setData([t, ...set.values])
    }
    this.card.dataset.samples = String(t.length)
    this.card.dataset.nonzero = set.labels.filter((_label, i) => set.values[i].some((v) => v !== null && v > 0)).join(',')
  }

  destroy() {
    this.uplot?.destroy()
    this.uplot = null
    this.labels = ''
    delete this.card.dataset.samples
    delete this.card.dataset.nonzero
  }
}

/** The charts of the page, found by their `data-chart` cards. */
export class Charts {
  /** @param {ParentNode} root */
  constructor(root) {
    this.charts = [...root.querySelectorAll('[data-chart]')].map((card) => new Chart(card))
  }

  /** @param {import('./samples.js').Derived} derived */
  draw(derived) {
    for (const chart of this.charts) chart.draw(derived.t, derived[SOURCES[chart.name]])
  }

  clear() {
    for (const chart of this.charts) chart.destroy()
  }
}
