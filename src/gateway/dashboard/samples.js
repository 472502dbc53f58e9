// The rolling window of /admin/stats samples the charts draw. The API's counters are cumulative since
// the gateway started; rates are the differences between consecutive samples over the server's own
// uptime between them, so a slow poll does not show as a dip.

/** 10 minutes at one sample every 3 s: the window never grows past it. */
const MAX_SAMPLES = 200

const CACHE_STATUSES = ['HIT', 'STALE', 'MISS', 'BYPASS']

/**
 * @typedef {{ labels: string[], values: Array<Array<number | null>> }} SeriesSet
 * @typedef {{ t: number[], requests: SeriesSet, hitRatio: SeriesSet, money: SeriesSet, blocked: SeriesSet, latency: SeriesSet, overhead: SeriesSet }} Derived
 */

/** Only what the charts need of a stats answer: the tables read the latest answer itself. */
function compact(stats) {
  return {
    t: Date.parse(stats.startedAt) / 1000 + stats.uptimeSeconds,
    startedAt: stats.startedAt,
    byCache: { ...stats.requests.byCache },
    blocked: { ...stats.limits.blocked },
    hitRatio: stats.cache.hitRatio,
    savedUsd: stats.money.savedUsd,
    spentUsd: stats.money.spentUsd,
    latency: stats.upstream.latency,
    overhead: stats.overhead,
  }
}

const ms = (seconds) => (seconds === null || seconds === undefined ? null : seconds * 1000)

function perSecond(list, pick) {
  return list.map((sample, i) => {
    const previous = list[i - 1]
    if (!previous) return null
    const delta = (pick(sample) ?? 0) - (pick(previous) ?? 0)
    return delta < 0 ? null : delta / (sample.t - previous.t)
  })
}

function intervalHitRatio(list) {
  return list.map((sample, i) => {
    const previous = list[i - 1]
    if (!previous) return null
    const delta = (status) => sample.byCache[status] - previous.byCache[status]
    const hits = delta('HIT') + delta('STALE')
    const lookups = hits + delta('MISS')
    return lookups > 0 ? hits / lookups : null
  })
}

export class Samples {
  /** @type {ReturnType<typeof compact>[]} */
  #list = []

  /** Adds an answer; a gateway that restarted (another `startedAt`) starts a new window. */
  add(stats) {
    const sample = compact(stats)
    const last = this.#list.at(-1)
    if (last && last.startedAt !== sample.startedAt) this.#list = []
    else if (last && sample.t <= last.t) return
    this.#list.push(sample)
    if (this.#list.length > MAX_SAMPLES) this.#list.shift()
  }

  clear() {
    this.#list = []
  }

  /** @returns {Derived} */
  derive() {
    const list = this.#list
    const rules = [...new Set(list.flatMap((sample) => Object.keys(sample.blocked)))].sort()
    return {
      t: list.map((sample) => sample.t),
      requests: { labels: CACHE_STATUSES, values: CACHE_STATUSES.map((status) => perSecond(list, (s) => s.byCache[status])) },
      hitRatio: { labels: ['since start', 'per interval'], values: [list.map((s) => s.hitRatio), intervalHitRatio(list)] },
      money: { labels: ['saved', 'spent'], values: [list.map((s) => s.savedUsd), list.map((s) => s.spentUsd)] },
      blocked: rules.length > 0
        ? { labels: rules, values: rules.map((rule) => perSecond(list, (s) => s.blocked[rule])) }
        : { labels: ['all rules'], values: [perSecond(list, () => 0)] },
      latency: { labels: ['p50', 'p95'], values: [list.map((s) => ms(s.latency.p50)), list.map((s) => ms(s.latency.p95))] },
      overhead: { labels: ['p50', 'p99'], values: [list.map((s) => ms(s.overhead.p50)), list.map((s) => ms(s.overhead.p99))] },
    }
  }
}
